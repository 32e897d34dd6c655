import pandas as pd

from cdae_lite.paper import classes_eval as ce


def long_rows(frc_with: float, frc_without: float = 6.2, pixel_A: float = 1.27) -> pd.DataFrame:
    rows = [{"protein": "adk", "snr": 0.05, "pixel A": pixel_A,
             "F1 ml2d": 0.9, "FRC0.143 A ml2d": frc_without,
             "F1 ml2d-denoise": 0.9, "FRC0.143 A ml2d-denoise": frc_with}]
    return ce.long_table({"rows": rows})


def test_class_averages_within_one_fourier_shell_are_as_sharp():
    step = ce.shell_step_A(6.2, 64, 1.27)  # about 0.47 A at 6.2 A in a 64-px box of 1.27 A/px
    near, far = long_rows(6.2 + step / 2), long_rows(6.2 + 2 * step)
    assert "as sharp on adk" in ce.denoising_verdicts(near, "frc0143_A", 64)[0]
    assert "blurrier on adk" in ce.denoising_verdicts(far, "frc0143_A", 64)[0]
    # without the box size only differences that round to 0.0 A are ties
    assert "blurrier on adk" in ce.denoising_verdicts(near, "frc0143_A")[0]


def test_the_box_size_and_stack_shape_are_read_from_the_title_or_refused():
    title = {"benchmark": "ML 2D classification, realistic preset, 12 views x 100, 64 px"}
    assert ce.box_size(title) == 64 and ce.stack_shape(title) == (12, 100)
    for read in (ce.box_size, ce.stack_shape):
        try:
            read({"benchmark": "no shape here"})
        except ValueError as e:
            assert "benchmark's title" in str(e)
        else:
            raise AssertionError(f"{read.__name__} accepted a title without its numbers")
