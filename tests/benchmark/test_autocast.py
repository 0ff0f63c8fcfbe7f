from benchmarks.autocast import native_bf16_flags


def test_native_bfloat16_is_read_from_the_processor_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16 amx_tile\n"
                       "processor : 1\nflags : fpu avx2 avx512f avx512_bf16 amx_tile\n")
    assert native_bf16_flags(cpuinfo) == ["avx512_bf16"]
    cpuinfo.write_text("flags : fpu avx2 avx512f avx512_bf16_x\n")  # whole flags only
    assert native_bf16_flags(cpuinfo) == []
    assert native_bf16_flags(tmp_path / "absent") == []
