"""Pretrain a backbone on DigitTags: a random sub-network (patch size) per step, optional
distillation from a frozen teacher, resumable checkpoints, and the weight files at the end.

Everything that varies between steps is a pure function of (seed, step) (the scenes, the
drawn choice, the learning rate) and the checkpoint holds model, optimiser and torch's random
state, so an interrupted run resumed from its checkpoint continues the run that was never
interrupted.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from mmengine.config import Config

from flexseg.compat.atomic_write import write_bytes_atomically, write_text_atomically
from flexseg.datasets.digitseg import GENERATOR_VERSION
from flexseg.layers.checks import is_number
from flexseg.pretrain.data import DigitTagParams, DigitTags
from flexseg.pretrain.export import save_big_vision_npz, save_timm_state_dict
from flexseg.pretrain.model import TaggingModel
from flexseg.pretrain.schedule import Schedule, draw_choice

CHECKPOINT = "latest.pth"
FORMATS = ("timm", "big_vision")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build_model(backbone_cfg: dict, seed: int, head_cfg: dict | None = None,
                num_classes: int = 10) -> TaggingModel:
    """The backbone from the registry (every flexseg backbone) with a tagging head: one
    output per glyph class, plus background when pixels are classified."""
    import flexseg.models  # noqa: F401  (registers the backbones)
    from mmseg.registry import MODELS

    torch.manual_seed(seed)
    backbone = MODELS.build(dict(backbone_cfg))
    head_cfg = dict(head_cfg or {})
    head_cfg.pop("loss", None)  # the trainer's, as is class_weight
    head_cfg.pop("class_weight", None)
    classes = num_classes + (head_cfg.get("pool") == "pixels")  # pixels: background too
    return TaggingModel(backbone, classes, **head_cfg)


LOSSES = ("bce", "softmax")


def set_accuracy(logits: torch.Tensor, targets: torch.Tensor, loss: str = "bce") -> float:
    """Share of images whose whole set of digits is predicted exactly: every logit > 0 where
    a digit is present (``bce``), or the top class (``softmax``, one digit per image)."""
    if loss == "softmax":
        return float((logits.argmax(-1) == targets.argmax(-1)).float().mean())
    return float(((logits > 0) == targets.bool()).all(dim=1).float().mean())


def tag_loss(logits: torch.Tensor, targets: torch.Tensor, loss: str,
             class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-label BCE, or cross-entropy over the last axis for one class per sample (an
    image's only digit, a patch's majority label); ``targets`` may be soft (a teacher's).
    ``class_weight`` (softmax): each class's term scaled and the mean taken over the samples'
    weights, as PyTorch's and mmseg's weighted cross-entropy average."""
    if loss == "softmax":
        terms = -targets * F.log_softmax(logits, dim=-1)
        if class_weight is None:
            return torch.sum(terms, dim=-1).mean()
        return torch.sum(terms * class_weight) / torch.sum(targets * class_weight)
    return F.binary_cross_entropy_with_logits(logits, targets)


def read_class_weight(head_cfg: dict, loss: str, classes: int) -> torch.Tensor | None:
    """``head.class_weight``: one non-negative number per class, softmax losses only."""
    weight = head_cfg.get("class_weight")
    if weight is None:
        return None
    if loss != "softmax":
        raise ValueError("head.class_weight applies to head.loss='softmax'")
    if not isinstance(weight, (list, tuple)) or len(weight) != classes or \
            not all(is_number(w) and w >= 0 for w in weight):
        raise ValueError(f"head.class_weight must be {classes} non-negative numbers (one per "
                         f"class), got {weight!r}")
    return torch.tensor([float(w) for w in weight])


@dataclass
class Teacher:
    """A frozen tagging model whose probabilities the student also fits."""

    model: TaggingModel
    choice: str | None
    weight: float

    loss: str = "bce"

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's probabilities, classes on the last axis."""
        if self.choice:
            self.model.backbone.activate(self.choice)
        logits = self.model(images)
        if self.model.pool == "pixels":
            logits = logits.permute(0, 2, 3, 1)
        return logits.softmax(-1) if self.loss == "softmax" else torch.sigmoid(logits)


def load_teacher(cfg: dict) -> Teacher:
    """``distill=dict(config=PRETRAIN_CONFIG, weights=TIMM_FILE, choice=None, weight=1.0)``."""
    teacher_cfg = Config.fromfile(cfg["config"])
    classes = DigitTagParams(**teacher_cfg.get("data", {})).scene.num_glyph_classes
    model = build_model(teacher_cfg.backbone, seed=0, head_cfg=teacher_cfg.get("head"),
                        num_classes=classes)
    state = torch.load(cfg["weights"], map_location="cpu", weights_only=True)
    backbone = {k: v for k, v in state.items() if not k.startswith("head.")}
    head = {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}
    model.backbone.load_state_dict(backbone)
    model.head.load_state_dict(head)
    model.eval().requires_grad_(False)
    return Teacher(model, cfg.get("choice"), float(cfg.get("weight", 1.0)),
                   (teacher_cfg.get("head") or {}).get("loss", "bce"))


def _param_groups(model: TaggingModel, weight_decay: float) -> list[dict]:
    """No weight decay on biases, norms, tokens and position embeddings (timm's rule)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        flat = param.ndim <= 1 or name.endswith(("pos_embed", "cls_token", "reg_token"))
        (no_decay if flat else decay).append(param)
    return [dict(params=decay, weight_decay=weight_decay),
            dict(params=no_decay, weight_decay=0.0)]


class Pretrainer:
    """One pretraining run of a config (see ``configs/pretrain/``)."""

    OBJECTIVE = "tags"
    SCORE = "set accuracy (%)"  # what ``evaluate`` reports per choice

    def __init__(self, cfg: Config, work_dir: Path, out_dir: Path,
                 say: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.work_dir = Path(work_dir)
        self.out_dir = Path(out_dir)
        self.say = say
        self.schedule = Schedule(**cfg.get("schedule", {}))
        self.data = DigitTags(DigitTagParams(**cfg.get("data", {})))
        export = dict(cfg.get("export", {}))
        self.name = export.get("name") or "pretrained"
        self.formats = tuple(export.get("formats", ("timm",)))
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"export.formats: unknown {unknown}; known: {', '.join(FORMATS)}")
        dtype = export.get("dtype", "float32")
        if dtype not in DTYPES:
            raise ValueError(f"export.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.dtype = DTYPES[dtype]
        self.model = build_model(cfg.backbone, self.schedule.seed, cfg.get("head"),
                                 self.data.num_classes)
        self.loss_kind = (cfg.get("head") or {}).get("loss", "bce")
        if self.loss_kind not in LOSSES:
            raise ValueError(f"head.loss must be one of {', '.join(LOSSES)}, got "
                             f"{self.loss_kind!r}")
        self.class_weight = read_class_weight(cfg.get("head") or {}, self.loss_kind,
                                              self.model.head.out_features)
        if self.model.pool == "pixels" and self.loss_kind != "softmax":
            raise ValueError("head.pool='pixels' classifies each pixel: set head.loss='softmax'")
        if (self.loss_kind == "softmax" and self.model.pool == "token"
                and self.data.params.scene.digits_per_image != (1, 1)):
            raise ValueError("head.loss='softmax' with pool='token' classifies one digit per "
                             "image (data.scene.digits_per_image=(1, 1))")
        self.ids = [choice.id for choice in self.model.backbone.space()]
        self.weights = (cfg.get("sampler") or {}).get("weights")
        self.teacher = load_teacher(cfg.distill) if cfg.get("distill") else None
        self.optimizer = torch.optim.AdamW(
            _param_groups(self.model, self.schedule.weight_decay), lr=self.schedule.lr)

    # ----------------------------------------------------------------- steps
    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        choice = draw_choice(self.ids, step, self.schedule.seed, self.weights)
        images, targets, labels = self.data.train_batch(step, self.schedule.batch_size)
        if self.teacher is not None:
            soft = self.teacher.targets(images)
        self.model.backbone.activate(choice)
        logits = self._last_axis_classes(self.model(images))
        if self.model.pool == "pixels":
            targets = F.one_hot(labels, self.data.num_classes + 1).float()
        loss = tag_loss(logits, targets, self.loss_kind, self.class_weight)
        if self.teacher is not None:
            loss = loss + self.teacher.weight * tag_loss(logits, soft, self.loss_kind,
                                                         self.class_weight)
        return loss, choice

    def _last_axis_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """Pixel scores (B, C, H, W) as (B, H, W, C), so every loss reads classes last."""
        return logits.permute(0, 2, 3, 1) if self.model.pool == "pixels" else logits

    def step(self, step: int) -> tuple[float, str]:
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.learning_rate(step)
        loss, choice = self.loss(step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.schedule.clip_grad:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.schedule.clip_grad)
        self.optimizer.step()
        return float(loss.detach()), choice

    # ----------------------------------------------------------------- checkpoints
    def _save_checkpoint(self, step: int, seconds: float) -> None:
        import io
        buffer = io.BytesIO()
        torch.save(dict(step=step, seconds=seconds, model=self.model.state_dict(),
                        optimizer=self.optimizer.state_dict(),
                        rng=torch.get_rng_state()), buffer)
        write_bytes_atomically(self.work_dir / CHECKPOINT, buffer.getvalue())

    def _resume(self) -> tuple[int, float]:
        path = self.work_dir / CHECKPOINT
        if not path.exists():
            return 0, 0.0
        saved = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        self.say(f"resuming from {path} at step {saved['step']}")
        return int(saved["step"]), float(saved["seconds"])

    # ----------------------------------------------------------------- the run
    def train(self) -> float:
        """Train to the end (resuming if a checkpoint exists); returns training seconds."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        start, seconds = self._resume()
        self.model.train()
        window = time.perf_counter()
        for step in range(start, self.schedule.steps):
            loss, choice = self.step(step)
            done = step + 1
            if done % self.schedule.log_interval == 0 or done == self.schedule.steps:
                now = time.perf_counter()
                seconds += now - window
                per_step = seconds / done
                eta = per_step * (self.schedule.steps - done) / 60
                self.say(f"step {done}/{self.schedule.steps} choice {choice} loss {loss:.4f} "
                         f"lr {self.schedule.learning_rate(step):.2e} "
                         f"{per_step:.2f} s/step, ETA {eta:.1f} min")
                window = now
            if done % self.schedule.checkpoint_interval == 0 or done == self.schedule.steps:
                now = time.perf_counter()
                seconds += now - window
                window = now
                self._save_checkpoint(done, seconds)
        return seconds

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Set accuracy (%) on the validation scenes at every choice of the backbone."""
        self.model.eval()
        images, targets, labels = self.data.validation()
        accuracy = {}
        for choice in self.ids:
            self.model.backbone.activate(choice)
            logits = torch.cat([self._last_axis_classes(self.model(chunk))
                                for chunk in images.split(64)])
            wanted = targets
            if self.model.pool == "pixels":  # every pixel a sample
                wanted = F.one_hot(labels, self.data.num_classes + 1).float()
                logits, wanted = logits.flatten(0, -2), wanted.flatten(0, -2)
            accuracy[choice] = round(100 * set_accuracy(logits, wanted, self.loss_kind), 2)
        return accuracy

    def export(self, seconds: float, accuracy: dict[str, float]) -> dict[str, Any]:
        """Write the weight files and ``<name>.json`` (what made them, how good they are)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state = self.model.timm_state_dict()
        files = {}
        if "timm" in self.formats:
            files["timm"] = save_timm_state_dict(state, self.out_dir / f"{self.name}.pth",
                                                 self.dtype)
        if "big_vision" in self.formats:
            files["big_vision"] = save_big_vision_npz(
                state, self.out_dir / f"{self.name}.npz",
                num_heads=self.cfg.backbone.get("num_heads", 12))
        meta = dict(name=self.name, objective=self.OBJECTIVE, generator_version=GENERATOR_VERSION,
                    data=asdict(self.data.params), schedule=asdict(self.schedule),
                    backbone=self.cfg.backbone.to_dict(), dtype=str(self.dtype),
                    train_seconds=round(seconds, 1), set_accuracy=accuracy,
                    files={kind: dict(path=path.name, sha256=_sha256(path))
                           for kind, path in files.items()})
        write_text_atomically(self.out_dir / f"{self.name}.json",
                              json.dumps(meta, indent=1, default=str) + "\n")
        return meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
