"""From a structure to a labelled noisy stack: maps, proteins, rotations, projection, CTF, noise, stacks.

The data flow of this stage::

    atomic model --maps--> 3D map --projection--> clean projections --ctf--> --noise(snr)--> noisy stack

:func:`~cdae_lite.simulation.stacks.simulate_protein` runs it for a shipped protein with a :class:`SimulationConfig`;
:func:`~cdae_lite.simulation.stacks.simulate` for any map.
"""

from cdae_lite.simulation.bank import TRAINING_MAPS, BankConfig, clean_bank
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.ctf import CTFParams, apply_ctf, ctf_1d, ctf_2d, phase_flip, power_spectrum, radial_average
from cdae_lite.simulation.maps import load_map, lowpass, model_to_map, phantom, resample, save_map
from cdae_lite.simulation.noise import add_noise, add_shot_noise, measure_snr, noise_sigma, snr_energy_disk
from cdae_lite.simulation.projection import Projector, project, project_real_space, spherical_mask
from cdae_lite.simulation.proteins import (PAPER_STANDINS, Protein, fetch_entry, load_protein, protein_names,
                                           test_proteins, training_protein)
from cdae_lite.simulation.rotations import euler_to_matrix, fibonacci_directions, matrix_to_euler
from cdae_lite.simulation.stacks import (SimulatedStack, load_particles, noise_sigma_label, simulate, simulate_blocks,
                                         simulate_protein)
from cdae_lite.simulation.views import (distinct_views, hemisphere_views, invariant_similarity, parse_views,
                                       resolve_views)
from cdae_lite.simulation.write import SimulationReport, write_simulation

__all__ = ["BankConfig", "TRAINING_MAPS", "clean_bank",
           "CTFParams", "PAPER_STANDINS", "Projector", "Protein", "SimulatedStack", "SimulationConfig",
           "SimulationReport", "add_noise", "add_shot_noise", "apply_ctf", "ctf_1d", "ctf_2d", "distinct_views",
           "euler_to_matrix", "fetch_entry", "fibonacci_directions", "hemisphere_views", "invariant_similarity",
           "load_map", "load_particles", "load_protein", "lowpass", "matrix_to_euler", "measure_snr", "model_to_map",
           "noise_sigma", "noise_sigma_label", "parse_views", "phantom", "phase_flip", "power_spectrum", "project",
           "project_real_space", "protein_names", "radial_average", "resample", "resolve_views", "save_map",
           "simulate", "simulate_blocks", "simulate_protein", "snr_energy_disk", "spherical_mask", "test_proteins",
           "training_protein", "write_simulation"]
