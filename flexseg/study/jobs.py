"""Resumable training-and-evaluation jobs for studies that take CPU hours.

A job trains one config (a small derived config file: the base config plus overrides) with
``tools/train.py`` and evaluates its last checkpoint with ``tools/test.py`` once per
``Evaluation`` (each its own overrides, e.g. more patch sizes than trained). Everything lives in
``<root>/<job name>/``; a step whose output exists is skipped, and an interrupted training run
is resumed from its last checkpoint, so re-running a study continues where it stopped.
Jobs run in priority order, up to ``parallel`` at a time, each after the jobs it ``needs``.
Overrides may name another job's files as ``{root}`` (the study's folder), e.g. its config
``{root}/<job>/config.py`` and final weights ``{root}/<job>/final.pth``.

The folder holds checkpoints (large, kept outside the repository by default); what a report
needs is copied to a small archive meant to be committed (``JobRunner.archive``): each
evaluation's results, the config (its base config named relative to the archive, so that it
loads in any checkout; the base as it is in that checkout, older ones in its history), and the
training cost.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from flexseg.study.cost import planned_forward_gflops, read_training_time

REPO = Path(__file__).resolve().parents[2]
TRAINING_SUMMARY = "training.json"
EVAL_RESULTS = "multibudget_test.json"
FINAL_CHECKPOINT = "final.pth"  # a link to the last checkpoint, for jobs that need this one


@dataclass(frozen=True)
class Evaluation:
    """One multi-budget test of a job's final checkpoint."""

    tag: str
    overrides: str = ""


@dataclass(frozen=True)
class Job:
    """Train ``config`` (+ ``overrides``, Python config text) and run ``evals``."""

    name: str
    config: str
    overrides: str = ""
    needs: tuple[str, ...] = ()
    evals: tuple[Evaluation, ...] = (Evaluation("eval"),)
    cli: tuple[str, ...] = field(default=())  # extra ``--cfg-options`` for train and test


def _config_text(base: str, overrides: str, root: Path) -> str:
    return f"_base_ = [{base!r}]\n{overrides.replace('{root}', str(root))}\n"


def _write_config(path: Path, base: Path, overrides: str, root: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _config_text(str(base), overrides, root)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


class JobRunner:
    """Runs the steps of one job in its folder; every step can be interrupted and repeated."""

    def __init__(self, job: Job, root: Path, threads: int, say: Callable[[str], None]) -> None:
        self.job = job
        self.root = root
        self.folder = root / job.name
        self.threads = threads
        self.say = say

    @property
    def checkpoint_pointer(self) -> Path:
        return self.folder / "train" / "last_checkpoint"

    @property
    def trained_marker(self) -> Path:
        return self.folder / "trained.json"

    def eval_results(self, evaluation: Evaluation) -> Path:
        return self.folder / evaluation.tag / EVAL_RESULTS

    def archive(self, archive: Path) -> None:
        """Copy the results of a finished job to ``archive/<job>/`` (once)."""
        target = archive / self.job.name
        if (target / TRAINING_SUMMARY).exists():
            return
        target.mkdir(parents=True, exist_ok=True)
        for evaluation in self.job.evals:
            shutil.copyfile(self.eval_results(evaluation), target / f"{evaluation.tag}.json")
        # The base config relative to the archive (mmengine resolves it from the file's folder),
        # so that an archived config loads in any checkout, not only in the one that ran it.
        base = os.path.relpath(REPO / self.job.config, target.resolve())
        (target / "config.py").write_text(_config_text(base, self.job.overrides, self.root))
        time = read_training_time(self.folder / "train")
        summary = dict(iterations=time.iterations, seconds=time.seconds,
                       forward_gflops_per_image=planned_forward_gflops(
                           self.folder / "config.py", time.iterations))
        (target / TRAINING_SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")

    def done(self) -> bool:
        return self.trained_marker.exists() and all(
            self.eval_results(e).exists() for e in self.job.evals)

    def final_checkpoint(self) -> Path:
        return Path(json.loads(self.trained_marker.read_text())["checkpoint"])

    def _run(self, command: list[str], log: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            os.environ.get("PYTHONPATH")])))
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as stream:
            stream.write(f"\n$ {' '.join(command)}\n")
            stream.flush()
            result = subprocess.run(command, cwd=REPO, env=env, stdout=stream,
                                    stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise RuntimeError(f"{self.job.name}: {' '.join(command[1:3])} failed "
                               f"(exit {result.returncode}); see {log}")

    def _cli(self) -> list[str]:
        return ["--cfg-options", *self.job.cli] if self.job.cli else []

    def train(self) -> None:
        if self.trained_marker.exists():
            return
        config = _write_config(self.folder / "config.py", REPO / self.job.config,
                               self.job.overrides, self.root)
        command = [sys.executable, "tools/train.py", str(config), "--work-dir",
                   str(self.folder / "train"), *self._cli()]
        resuming = self.checkpoint_pointer.exists()
        if resuming:
            command.append("--resume")
        self.say(f"{self.job.name}: {'resuming' if resuming else 'training'} "
                 f"(log: {self.folder / 'train.log'})")
        started = time.time()
        self._run(command, self.folder / "train.log")
        checkpoint = Path(self.checkpoint_pointer.read_text().strip())
        final = self.folder / FINAL_CHECKPOINT
        final.unlink(missing_ok=True)
        # relative, so that a job folder moved or renamed keeps its link
        final.symlink_to(os.path.relpath(checkpoint.resolve(), self.folder.resolve()))
        self.trained_marker.write_text(json.dumps(dict(
            checkpoint=str(final), last_attempt_seconds=time.time() - started)) + "\n")

    def evaluate(self) -> None:
        for evaluation in self.job.evals:
            if self.eval_results(evaluation).exists():
                continue
            config = _write_config(self.folder / f"{evaluation.tag}.py",
                                   self.folder / "config.py", evaluation.overrides, self.root)
            self.say(f"{self.job.name}: evaluating ({evaluation.tag})")
            self._run([sys.executable, "tools/test.py", str(config),
                       str(self.final_checkpoint()), "--work-dir",
                       str(self.folder / evaluation.tag), *self._cli()],
                      self.folder / f"{evaluation.tag}.log")


def _archived_and_not_needed(jobs: Sequence[Job], runners: dict[str, JobRunner],
                             archive: Path, finished: set[str]) -> set[str]:
    """Jobs whose results are archived (say, by a checkout on another machine) count as
    finished, unless an unfinished job needs their weights and this machine lacks them."""
    archived = {job.name for job in jobs if (archive / job.name / TRAINING_SUMMARY).exists()}
    done = finished | archived
    needed = {need for job in jobs if job.name not in done for need in job.needs}
    return {name for name in archived
            if name not in needed or (runners[name].folder / FINAL_CHECKPOINT).exists()}


def run_jobs(jobs: Sequence[Job], root: Path, parallel: int = 1, threads: int | None = None,
             say: Callable[[str], None] = print, archive: Path | None = None) -> list[str]:
    """Run every unfinished job (module doc), archiving each finished one to ``archive`` if
    given; returns the names of the jobs that failed."""
    names = [job.name for job in jobs]
    for job in jobs:
        unknown = [n for n in job.needs if n not in names]
        if unknown:
            raise ValueError(f"job {job.name} needs unknown jobs {unknown}")
    threads = threads or max(1, (os.cpu_count() or 1) // parallel)
    runners = {job.name: JobRunner(job, root, threads, say) for job in jobs}
    finished = {name for name, runner in runners.items() if runner.done()}
    if archive is not None:
        for name in finished:
            runners[name].archive(archive)
        finished |= _archived_and_not_needed(jobs, runners, archive, finished)
    failed: list[str] = []
    pending = [job for job in jobs if job.name not in finished]
    active: dict[str, threading.Thread] = {}
    lock = threading.Lock()

    def work(runner: JobRunner) -> None:
        started = time.time()
        try:
            runner.train()
            runner.evaluate()
            if archive is not None:
                runner.archive(archive)
        except Exception as error:  # a failed job must not stop the others
            with lock:
                failed.append(runner.job.name)
            say(f"FAILED {error}")
            return
        with lock:
            finished.add(runner.job.name)
        say(f"{runner.job.name}: done in {(time.time() - started) / 60:.1f} min")

    while pending or active:
        for name in [n for n, thread in active.items() if not thread.is_alive()]:
            del active[name]
        for job in list(pending):
            if len(active) >= parallel:
                break
            if any(n in failed for n in job.needs):
                pending.remove(job)
                failed.append(job.name)
                say(f"SKIPPED {job.name}: a job it needs failed")
            elif all(n in finished for n in job.needs):
                pending.remove(job)
                active[job.name] = threading.Thread(target=work, args=(runners[job.name],))
                active[job.name].start()
        time.sleep(0.2)
    return failed


def study_root(name: str) -> Path:
    """``$FLEXSEG_CACHE/<name>`` (default ``~/.cache/flexseg/<name>``, like the set-up's
    cache): where a study's runs and checkpoints live, outside the repository."""
    cache = os.environ.get("FLEXSEG_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flexseg"
    return Path(cache) / name


def select_jobs(jobs: Sequence[Job], only: str | None) -> list[Job]:
    """The jobs named in ``only`` (comma-separated) and every job they need, in ``jobs``'
    order; all of them if ``only`` is empty. An unknown name is a one-line SystemExit."""
    if not only:
        return list(jobs)
    by_name = {job.name: job for job in jobs}
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise SystemExit(f"error: unknown jobs {unknown}; jobs: {', '.join(by_name)}")
    chosen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in chosen:
            chosen.add(name)
            wanted.extend(by_name[name].needs)
    return [job for job in jobs if job.name in chosen]
