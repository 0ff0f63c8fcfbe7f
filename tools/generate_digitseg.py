"""Generate the DigitSeg dataset (ADE20K layout, optional COCO instances and NYUv2-style depth).

Reuses an existing set made with the same parameters unless --force is given.
Example: python tools/generate_digitseg.py --root data/digitseg --nyu-root data/digitseg_nyu
"""
import argparse
from collections.abc import Iterable, Iterator

from flexseg.datasets import DEFAULT_ROOT, DigitSegParams, ensure_digitseg, read_meta

try:
    from tqdm import tqdm as progress
except ImportError:
    def progress(iterable: Iterable[int], total: int, desc: str) -> Iterator[int]:
        """Print a line every tenth of the way when tqdm is not installed."""
        step = max(1, total // 10)
        for done, item in enumerate(iterable, 1):
            yield item
            if done % step == 0 or done == total:
                print(f"{desc}: {done}/{total}", flush=True)


def parse_args() -> argparse.Namespace:
    defaults = DigitSegParams()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=DEFAULT_ROOT, help="output folder (ADE20K layout)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--num-train", type=int, default=defaults.num_train)
    parser.add_argument("--num-val", type=int, default=defaults.num_val)
    parser.add_argument("--image-size", type=int, nargs="+", default=list(defaults.image_size),
                        metavar="PX", help="one side for square images, or HEIGHT WIDTH")
    parser.add_argument("--digits-per-image", type=int, nargs=2, metavar=("MIN", "MAX"),
                        default=list(defaults.digits_per_image))
    parser.add_argument("--digit-size", type=int, nargs=2, metavar=("MIN", "MAX"),
                        default=list(defaults.digit_size), help="digit box side in pixels")
    parser.add_argument("--clutter-opacity", type=float, default=defaults.clutter_opacity,
                        help="opacity of the background shapes (1 = as strong as the digits)")
    parser.add_argument("--letters", action="store_true",
                        help="add the 26 printed capital letters as classes after the digits")
    parser.add_argument("--coco", action=argparse.BooleanOptionalAction, default=True,
                        help="also write coco/instances_{train,val}.json")
    parser.add_argument("--nyu-root", default=None,
                        help="also write the depth variant there (mmseg NYUv2 layout)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args()
    if len(args.image_size) not in (1, 2):
        parser.error("--image-size takes one or two values")
    return args


def main() -> None:
    args = parse_args()
    size = args.image_size * 2 if len(args.image_size) == 1 else args.image_size
    generated = ensure_digitseg(
        args.root, coco=args.coco, nyu_root=args.nyu_root, force=args.force, progress=progress,
        seed=args.seed, num_train=args.num_train, num_val=args.num_val, image_size=tuple(size),
        digits_per_image=tuple(args.digits_per_image), digit_size=tuple(args.digit_size),
        clutter_opacity=args.clutter_opacity, letters=args.letters)
    if not generated:
        print(f"DigitSeg in {args.root} is up to date (same parameters); --force regenerates it")
        return
    meta = read_meta(args.root)
    n_train, n_val = meta["params"]["num_train"], meta["params"]["num_val"]
    print(f"wrote {n_train} training and {n_val} validation images to {args.root}/images/"
          f"{{training,validation}} with labels in {args.root}/annotations/")
    if args.coco:
        print(f"wrote COCO instances to {args.root}/coco/instances_{{train,val}}.json "
              f"(data_prefix img='images/training/' or 'images/validation/')")
    if args.nyu_root:
        print(f"wrote the depth variant to {args.nyu_root}/{{images,annotations}}/{{train,test}}")


if __name__ == "__main__":
    main()
