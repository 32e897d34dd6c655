import io
import os

import mrcfile
import numpy as np
import pytest

from cdae_lite.images import check_images
from cdae_lite.io.mrc import StackWriter, open_stack, read_block, read_stack, write_stack


def test_stack_round_trip_keeps_values_and_pixel_size(tmp_path, rng):
    imgs = rng.normal(size=(5, 16, 16)).astype(np.float32)
    path = write_stack(tmp_path / "a.mrcs", imgs, 1.75)
    back, px = read_stack(path)
    assert np.array_equal(back, imgs) and px == pytest.approx(1.75)
    with mrcfile.open(path) as m:
        assert m.is_image_stack()


def test_write_refuses_to_overwrite_and_leaves_no_temporary_file(tmp_path, rng):
    imgs = rng.normal(size=(2, 8, 8)).astype(np.float32)
    write_stack(tmp_path / "a.mrcs", imgs, 1.0)
    with pytest.raises(FileExistsError):
        write_stack(tmp_path / "a.mrcs", imgs * 0, 1.0)
    assert np.array_equal(read_stack(tmp_path / "a.mrcs")[0], imgs)
    assert sorted(os.listdir(tmp_path)) == ["a.mrcs"]


@pytest.mark.parametrize("mode, dtype", [(0, np.int8), (1, np.int16), (2, np.float32), (6, np.uint16),
                                         (12, np.float16)])
def test_reads_the_common_mrc_modes(tmp_path, mode, dtype):
    data = (np.arange(3 * 8 * 8) % 100).reshape(3, 8, 8).astype(dtype)
    with mrcfile.new(tmp_path / "m.mrcs") as m:
        m.set_data(data)
        m.set_image_stack()
        assert int(m.header.mode) == mode
    back, px = read_stack(tmp_path / "m.mrcs")
    assert back.dtype == np.float32 and np.array_equal(back, data.astype(np.float32)) and px is None
    # the streaming reader (plain reads at the data offset) agrees, also with an extended header
    with mrcfile.new(tmp_path / "x.mrcs") as m:
        m.set_data(data)
        m.set_extended_header(np.zeros(100, dtype="V1"))
        m.set_image_stack()
    for name in ("m.mrcs", "x.mrcs"):
        mrc, mm = open_stack(tmp_path / name)
        with mrc:
            part = read_block(tmp_path / name, mrc, mm, 1, 3)
        assert part.dtype == np.float32 and np.array_equal(part, data[1:3].astype(np.float32))


def test_read_block_of_a_big_endian_stack(tmp_path):
    data = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    with mrcfile.new(tmp_path / "le.mrcs") as m:
        m.set_data(data)
        m.set_image_stack()
    raw = bytearray((tmp_path / "le.mrcs").read_bytes())
    with mrcfile.open(tmp_path / "le.mrcs") as m:  # byte-swap header and data: a big-endian file
        h = m.header.byteswap().view(m.header.dtype.newbyteorder())
        h.machst = [0x11, 0x11, 0, 0]
        raw = h.tobytes() + data.astype(">f4").tobytes()
    (tmp_path / "be.mrcs").write_bytes(bytes(raw))
    mrc, mm = open_stack(tmp_path / "be.mrcs")
    with mrc:
        assert mm.dtype.byteorder == ">"
        assert np.array_equal(read_block(tmp_path / "be.mrcs", mrc, mm, 0, 2), data)


def test_stack_writer_streams_and_cleans_up_on_error(tmp_path, rng):
    blocks = [rng.normal(size=(3, 8, 8)).astype(np.float32) for _ in range(3)]
    with StackWriter(tmp_path / "w.mrcs", 9, 8, 2.0) as w:
        for i, b in enumerate(blocks):
            w.write(3 * i, b)
    back, px = read_stack(tmp_path / "w.mrcs")
    assert np.array_equal(back, np.concatenate(blocks)) and px == 2.0
    with mrcfile.open(tmp_path / "w.mrcs") as m:  # header statistics, accumulated block by block
        assert m.is_image_stack()
        assert float(m.header.dmin) == pytest.approx(back.min()) and float(m.header.dmax) == pytest.approx(back.max())
        assert float(m.header.dmean) == pytest.approx(back.mean(), abs=1e-6)
        assert float(m.header.rms) == pytest.approx(back.std(), rel=1e-5)
    report = io.StringIO()
    assert mrcfile.validate(tmp_path / "w.mrcs", print_file=report), report.getvalue()  # header checks
    with pytest.raises(RuntimeError):
        with StackWriter(tmp_path / "x.mrcs", 9, 8, 2.0) as w:
            w.write(0, blocks[0])
            raise RuntimeError("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["w.mrcs"]


def _write_raw(path, payload: bytes):
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("make, err, msg", [
    (lambda p: p / "missing.mrcs", FileNotFoundError, "no such"),
    (lambda p: _write_raw(p / "empty.mrcs", b""), ValueError, "empty"),
    (lambda p: _write_raw(p / "text.mrcs", b"this is not an MRC file\n" * 100), ValueError, "not a valid MRC"),
])
def test_bad_files_raise_clear_errors(tmp_path, make, err, msg):
    with pytest.raises(err, match=msg):
        read_stack(make(tmp_path))


def test_truncated_file(tmp_path, rng):
    path = write_stack(tmp_path / "t.mrcs", rng.normal(size=(10, 16, 16)).astype(np.float32), 1.0)
    data = path.read_bytes()
    path.write_bytes(data[: 1024 + 3 * 16 * 16 * 4])
    with pytest.raises(ValueError, match="truncated|not a valid"):
        read_stack(path)


def test_volume_where_a_stack_is_expected(tmp_path):
    with mrcfile.new(tmp_path / "vol.mrc") as m:
        m.set_data(np.zeros((8, 8, 8), np.float32))
        m.set_volume()
    with pytest.raises(ValueError, match="3D map"):
        read_stack(tmp_path / "vol.mrc")
    assert read_stack(tmp_path / "vol.mrc", allow_volume=True)[0].shape == (8, 8, 8)


def test_non_square_and_nan_images(tmp_path):
    with mrcfile.new(tmp_path / "rect.mrcs") as m:
        m.set_data(np.zeros((2, 8, 10), np.float32))
        m.set_image_stack()
    with pytest.raises(ValueError, match="non-square"):
        read_stack(tmp_path / "rect.mrcs")
    bad = np.zeros((3, 8, 8), np.float32)
    bad[2, 1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite pixels in 1 image"):
        check_images(bad)
    with pytest.raises(ValueError, match="empty"):
        check_images(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="shape"):
        check_images(np.zeros((2, 3, 8, 8)))


def test_open_stack_is_memory_mapped(tmp_path, rng):
    write_stack(tmp_path / "a.mrcs", rng.normal(size=(4, 8, 8)).astype(np.float32), 1.0)
    mrc, data = open_stack(tmp_path / "a.mrcs")
    with mrc:
        assert isinstance(data, np.memmap) or isinstance(getattr(data, "base", None), np.memmap)
        assert not data.flags.writeable


def test_a_non_cubic_stack_flagged_as_volume_is_read_as_a_stack(tmp_path):
    # as the real EMPIAR-10076 file shipped in data/particles: 7 images of 320 px, space group 1
    with mrcfile.new(tmp_path / "seven.mrc") as m:
        m.set_data(np.arange(7 * 16 * 16, dtype=np.float32).reshape(7, 16, 16))
        m.set_volume()
    assert read_stack(tmp_path / "seven.mrc")[0].shape == (7, 16, 16)


def test_an_output_that_appears_while_writing_is_kept_not_replaced(tmp_path):
    from cdae_lite.io.mrc import StackWriter

    target = tmp_path / "out.mrcs"
    with pytest.raises(FileExistsError, match="appeared while"):
        with StackWriter(target, 2, 8, 1.0) as w:
            w.write(0, np.ones((2, 8, 8), np.float32))
            target.write_text("the other run's output")  # another run publishes first
    assert target.read_text() == "the other run's output"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mrcs"]  # no temporary left
    with StackWriter(target, 2, 8, 1.0, overwrite=True) as w:  # asked to overwrite: replaced
        w.write(0, np.ones((2, 8, 8), np.float32))
    assert target.stat().st_size > 100
