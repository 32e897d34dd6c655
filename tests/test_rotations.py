import numpy as np

from cdae_lite.simulation.rotations import (axis_angle_matrix, euler_to_matrix, fibonacci_directions, jitter,
                                            matrix_to_euler, viewing_direction)


def test_euler_round_trip_and_orthonormal(rng):
    a = np.c_[rng.uniform(-180, 180, 500), rng.uniform(0, 180, 500), rng.uniform(-180, 180, 500)]
    m = euler_to_matrix(*a.T)
    assert np.allclose(m @ m.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(m), 1)
    back = matrix_to_euler(m)
    assert np.allclose(euler_to_matrix(*back.T), m, atol=1e-10)
    assert np.allclose((back - a + 180) % 360 - 180, 0, atol=1e-8)


def test_relion_convention_known_matrices():
    # rot = tilt = psi = 0 is the identity: look down z
    assert np.allclose(euler_to_matrix(0, 0, 0), np.eye(3))
    # tilt 90 looks along +x: the viewing direction is the last row of A
    a = euler_to_matrix(0, 90, 0)
    assert np.allclose(a[2], [1, 0, 0], atol=1e-12)
    assert np.allclose(viewing_direction(30, 60), euler_to_matrix(30, 60, 10)[2])
    # psi only rotates within the image plane: the viewing direction does not change
    assert np.allclose(euler_to_matrix(30, 60, 0)[2], euler_to_matrix(30, 60, 77)[2])


def test_degenerate_tilts_keep_the_matrix():
    for t in (0.0, 180.0):
        m = euler_to_matrix(40, t, 25)
        assert np.allclose(euler_to_matrix(*matrix_to_euler(m)), m, atol=1e-10)


def test_jitter_moves_direction_by_about_sigma(rng):
    m = np.repeat(np.eye(3)[None], 4000, axis=0)
    j = jitter(m, 5.0, rng)
    cosang = np.clip(j[:, 2, 2], -1, 1)  # angle between new and old viewing direction
    rms = np.sqrt(np.mean(np.degrees(np.arccos(cosang)) ** 2))
    # a rotation by angle t about a random axis tilts the z axis by t * sin(axis angle): RMS = 5 * sqrt(2/3)
    assert abs(rms - 5 * np.sqrt(2 / 3)) < 0.2
    assert np.allclose(jitter(m[:3], 0.0, rng), m[:3])


def test_axis_angle_and_directions():
    r = axis_angle_matrix(np.array([[0, 0, 1.0]]), np.array([90.0]))[0]
    assert np.allclose(r @ [1, 0, 0], [0, 1, 0])
    d = fibonacci_directions(100, hemisphere=True)
    assert d.shape == (100, 2) and d[:, 1].max() <= 90
