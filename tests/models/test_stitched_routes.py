"""Route enumeration of two-way stitching: counts, the stitching rules and ids."""
from collections import Counter

import pytest

from flexseg.models import StitchedViT
from flexseg.models.stitch_routes import Segment, enumerate_routes


def _small_units(route, ratio: int) -> list[int]:
    """Which small-block-sized part of the network each segment block covers, in order."""
    units = []
    for segment in route.segments:
        scale = 1 if segment.anchor == "S" else ratio
        units += list(range(segment.start // scale, segment.stop // scale))
    return units


@pytest.mark.parametrize("large_depth", [24, 12])
def test_a_12_block_small_anchor_gives_134_routes_including_both_anchors(large_depth):
    routes = enumerate_routes(12, large_depth)
    assert len(routes) == 134
    assert Counter(route.kind for route in routes) == {
        "S": 1, "L": 1, "S-L": 11, "L-S": 11, "S-L-S": 55, "L-S-L": 55}
    assert len({route.id for route in routes}) == 134
    assert len(set(routes)) == 134


@pytest.mark.parametrize("large_depth", [24, 12])
def test_a_stitched_model_of_12_block_small_anchor_offers_134_choices(large_depth):
    model = StitchedViT(dict(embed_dim=8, depth=12, num_heads=1),
                        dict(embed_dim=16, depth=large_depth, num_heads=1), img_size=16,
                        patch_size=8, lora_rank=1)
    assert [route.id for route in model.space()] == [
        route.id for route in enumerate_routes(12, large_depth)]
    # one layer per boundary and direction, and SN-Netv2's level map of the last small block
    assert len(model.stitches) == 2 * 11 + 1 and "s11-l" + str(large_depth) in model.stitches


@pytest.mark.parametrize("large_depth", [24, 12])
def test_every_route_runs_each_part_of_the_network_once_in_order(large_depth):
    ratio = large_depth // 12
    for route in enumerate_routes(12, large_depth):
        assert _small_units(route, ratio) == list(range(12)), route.id
        for segment in route.segments:
            depth = 12 if segment.anchor == "S" else large_depth
            assert 0 <= segment.start < segment.stop <= depth
        assert all(a.anchor != b.anchor for a, b in zip(route.segments, route.segments[1:]))


def test_12_24_stitches_follow_the_two_way_rules():
    stitches = {stitch for route in enumerate_routes(12, 24) for stitch in route.stitches()}
    small_to_large = sorted((s.last_block, s.first_block) for s in stitches if s.source == "S")
    large_to_small = sorted((s.last_block, s.first_block) for s in stitches if s.source == "L")
    # After small block i: large block 2(i + 1).
    assert small_to_large == [(i, 2 * (i + 1)) for i in range(11)]
    # After large block i (the second of a pair): small block i // 2 + 1.
    assert large_to_small == [(i, i // 2 + 1) for i in range(1, 23, 2)]


def test_ids_name_the_blocks_around_each_stitch():
    routes = {route.id: route for route in enumerate_routes(12, 24)}
    assert routes["S"].segments == (Segment("S", 0, 12),)
    assert routes["L"].segments == (Segment("L", 0, 24),)
    assert routes["s4-l10"].segments == (Segment("S", 0, 5), Segment("L", 10, 24))
    assert routes["l9-s5"].segments == (Segment("L", 0, 10), Segment("S", 5, 12))
    assert routes["s3-l8-s9"].segments == (
        Segment("S", 0, 4), Segment("L", 8, 18), Segment("S", 9, 12))
    assert routes["l7-s4-l18"].segments == (
        Segment("L", 0, 8), Segment("S", 4, 9), Segment("L", 18, 24))
    assert [s.key for s in routes["s3-l8-s9"].stitches()] == ["s3-l8", "l17-s9"]


def test_ids_of_an_equal_depth_pair():
    ids = [route.id for route in enumerate_routes(12, 12)]
    assert ids[:4] == ["S", "L", "s0-l1", "s1-l2"]
    assert "l4-s5" in ids and "s3-l4-s9" in ids and "l3-s4-l9" in ids


def test_kinds_and_boundaries_restrict_the_space():
    assert len(enumerate_routes(12, 24, kinds=("S", "L", "S-L"))) == 13
    routes = enumerate_routes(12, 24, boundaries=(4, 8))
    assert [route.id for route in routes] == [
        "S", "L", "s3-l8", "s7-l16", "l7-s4", "l15-s8", "s3-l8-s8", "l7-s4-l16"]
    assert len(enumerate_routes(6, 12)) == 2 + 2 * 5 + 2 * 10

def test_a_two_block_pair_has_the_two_segment_routes():
    assert len(enumerate_routes(2, 4, kinds=("S", "L", "S-L", "L-S"))) == 4


def _tiny_stitched(**kwargs) -> StitchedViT:
    return StitchedViT(dict(embed_dim=16, depth=2, num_heads=2),
                       dict(embed_dim=24, depth=4, num_heads=2), img_size=32, patch_size=8,
                       routes=("S", "L", "S-L", "L-S"), **kwargs)


def test_choices_pin_the_space_and_keep_every_stitching_layer():
    whole = _tiny_stitched()
    pinned = _tiny_stitched(choices=["l1-s1"])
    assert [route.id for route in pinned.space()] == ["l1-s1"]
    assert pinned.active_choice.id == "l1-s1"
    assert pinned.state_dict().keys() == whole.state_dict().keys()
