"""Several choices of a backbone on one input, each distinct prefix of work computed once.

A backbone describes each choice as a sequence of hashable operations (embed, a block, a
stitch, a token-keeping step). Choices whose sequences start alike share that prefix: a
stitched ViT's routes share their first anchor's blocks, keep rates share every block before
the first keep point. The sequences form a tree that is walked depth first: an operation runs
once per tree node, on its parent's state, and a choice's outputs are formed where its sequence
ends. States are immutable, and only the states on the path from the root to the current node
are alive, so memory is bounded by the depth of the tree (the longest sequence), not by the
number of choices.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Hashable, Iterator, Sequence, TypeVar

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

Op = Hashable
State = TypeVar("State")
Output = TypeVar("Output")
_ENDS = object()  # key of a node's list of choices whose sequence ends there
KEEP_OP = "keep"  # first element of a token-keeping operation, ("keep", rate)
# What of a block an operation runs: all of it, or the attention or MLP half around a keep
# point inside the block (``token_keep``: SuperViT prunes between them).
BLOCK_PARTS = ("block", "attn", "mlp")


@dataclass
class TreeStats:
    """What a shared pass did: operations run, what separate passes would run, and the most
    states alive at once (the deepest root-to-node path)."""

    ops_run: int = 0
    ops_separately: int = 0
    peak_states: int = 0


def shared_prefix_outputs(sequences: Sequence[tuple[Hashable, Sequence[Op]]],
                          apply: Callable[[Op, State | None, list[Op]], State],
                          finish: Callable[[Hashable, State], Output],
                          stats: TreeStats | None = None) -> Iterator[tuple[Hashable, Output]]:
    """Yield ``(choice, finish(choice, state))`` for every ``(choice, ops)`` in ``sequences``.

    ``apply(op, parent_state, next_ops)`` returns a new state (the root's parent is None);
    ``next_ops`` are the operations that will follow in the tree, so an operation can compute
    extra results only a child needs.
    """
    root: dict = {}
    for choice, ops in sequences:
        node = root
        for op in ops:
            node = node.setdefault(op, {})
        node.setdefault(_ENDS, []).append(choice)
    stats = stats if stats is not None else TreeStats()
    stats.ops_separately += sum(len(ops) for _, ops in sequences)

    def visit(node: dict, state, depth: int) -> Iterator[tuple[Hashable, Output]]:
        stats.peak_states = max(stats.peak_states, depth)
        for choice in node.get(_ENDS, []):
            yield choice, finish(choice, state)
        for op, child in node.items():
            if op is _ENDS:
                continue
            stats.ops_run += 1
            following = [key for key in child if key is not _ENDS]
            yield from visit(child, apply(op, state, following), depth + 1)

    yield from visit(root, None, 0)


@dataclass(frozen=True)
class PassState:
    """A ViT forward pass between two operations: the processed tokens, the token-keeping
    bookkeeping, the token grid, the level maps taken so far ({level: value}) and the
    importance scores of the last block if a keep step follows."""

    tokens: object
    kept: object
    grid_hw: tuple[int, int]
    levels: dict
    scores: object = None


def run_ops(ops: Sequence[Op], apply: Callable[[Op, State | None, list[Op]], State]) -> State:
    """One choice's operations one after the other (a tree with a single path)."""
    state = None
    for position, op in enumerate(ops):
        state = apply(op, state, list(ops[position + 1:position + 2]))
    return state


def block_step(state: PassState, block: nn.Module, following: Sequence[Op], keep_score: str,
               level: Hashable | None, with_cp: bool = False, part: str = "block") -> PassState:
    """Run a block (or its ``part``, from ``BLOCK_PARTS``); compute importance scores if a keep
    step follows it in the tree; take the level map ``level`` (every token restored to its
    position) unless it is None.
    ``with_cp`` recomputes the block's activations in the backward pass instead of storing
    them (activation checkpointing), when gradients are being recorded. A windowed block
    (``window_size`` set) gets the token grid and processes every token, dropped ones included:
    token keeping drops tokens from global blocks only (``layers.window``)."""
    score = keep_score if any(op[0] == KEEP_OP for op in following) else None
    windowed = getattr(block, "window_size", None) is not None
    grid_hw = state.grid_hw if windowed else None
    kept, tokens = state.kept, state.tokens
    every_token = windowed and kept.positions is not None
    if every_token:
        tokens = kept.restore(tokens)
    run = {"block": block, "attn": block.attend,
           "mlp": lambda x, _score, _grid: block.feed_forward(x)}[part]
    if with_cp and torch.is_grad_enabled() and tokens.requires_grad:
        result = checkpoint(run, tokens, score, grid_hw, use_reentrant=False)
    else:
        result = run(tokens, score, grid_hw)
    tokens, scores = result if score is not None else (result, None)
    if every_token:
        kept = copy.copy(kept)
        tokens = kept.select(tokens)
    levels = state.levels
    if level is not None:
        levels = {**levels, level: kept.restore(tokens)}
    return replace(state, tokens=tokens, kept=kept, levels=levels, scores=scores)


def keep_block_ops(index: Hashable, keeps: bool, rate: float, site: str,
                   prefix: tuple = ()) -> list[tuple]:
    """One block as operations ``(part, *prefix, index)``: whole, followed by a keep step when
    it is a keep point (``keeps``) and ``rate < 1``; a keep point with ``site='attention'`` is
    split into its attention and MLP halves around the keep step, for every rate, so that the
    keep rates of a choice share its attention."""
    if keeps and site == "attention":
        middle = [(KEEP_OP, rate)] if rate < 1 else []
        return [("attn", *prefix, index), *middle, ("mlp", *prefix, index)]
    return [("block", *prefix, index)] + ([(KEEP_OP, rate)] if keeps and rate < 1 else [])


def keep_step(state: PassState, rate: float) -> PassState:
    """Token keeping at ``rate`` with the scores of the block before."""
    kept = copy.copy(state.kept)
    return replace(state, tokens=kept.prune(state.tokens, state.scores, rate), kept=kept,
                   scores=None)
