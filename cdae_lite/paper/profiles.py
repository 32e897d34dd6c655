"""The paper's profiles: the scale an experiment runs at, and its CPU-sized and smoke variants.

A *profile* chooses the scale of an experiment. ``full`` is the paper's scale (64 px images, 1000
images per view): the library configs' defaults. ``quick`` runs the same code path on smaller images
and fewer images so that a chapter executes on two CPU cores in a minute or two. The profile is read
from the environment variable ``CDAE_PROFILE`` (``quick`` or ``full``); when it is unset, ``full`` is
used on a machine with a CUDA GPU and ``quick`` elsewhere. The *smoke path* (``CDAE_SMOKE=1`` with the
full profile) keeps the full profile's shapes and shrinks only sample sizes and epochs.

The library's configs are plain dataclasses; what the quick profile and the smoke path change in them
is written here, one table of overrides per config (:data:`QUICK_OVERRIDES`, :data:`SMOKE_OVERRIDES`),
and applied by :func:`quick` and :func:`for_profile`. The paper's own experiment configs derive from
:class:`ProfiledConfig` and name their overrides in their ``quick_overrides`` and ``smoke_overrides``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Literal, TypeVar

import torch

from cdae_lite.simulation.config import SimulationConfig

Profile = Literal["quick", "full"]

#: The profiles' names.
PROFILES: tuple[str, ...] = ("quick", "full")

#: Field values of the quick profile, per library config (the defaults are the full profile's).
QUICK_OVERRIDES: dict[type, dict[str, Any]] = {
    SimulationConfig: {"image_size": 32, "images_per_view": 100},  # CPU scale; the same code path
}

#: Field values of the smoke path, per library config: sizes and epochs only, never shapes.
SMOKE_OVERRIDES: dict[type, dict[str, Any]] = {
    # the full profile's 64 px with a handful of images: 16 per view, since chapter 3's stopping score
    # averages the neighbours ranked k + 1 to 2k, so a protein needs more than 2k = 60 images (its larger
    # neighbourhoods, up to 4k, are capped at the stack's size)
    SimulationConfig: {"images_per_view": 16},
}

C = TypeVar("C")


def get_profile(profile: str | None = None) -> Profile:
    """Return the profile to run in.

    Parameters
    ----------
    profile : str, optional
        ``"quick"`` or ``"full"``. When omitted, the environment variable ``CDAE_PROFILE`` is read;
        when that is unset too, ``"full"`` on a CUDA machine and ``"quick"`` otherwise.

    Returns
    -------
    str
        ``"quick"`` or ``"full"``.

    Raises
    ------
    ValueError
        If the requested profile is not one of the two names.
    """
    if profile is None:
        profile = os.environ.get("CDAE_PROFILE", "").strip().lower() or None
    if profile is None:
        return "full" if torch.cuda.is_available() else "quick"
    profile = profile.strip().lower()
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: use 'quick' (small, CPU-friendly) or 'full' (paper scale), "
            "e.g. CDAE_PROFILE=quick"
        )
    return profile  # type: ignore[return-value]


def smoke() -> bool:
    """Whether ``CDAE_SMOKE`` asks for the smoke path.

    The smoke path runs the full profile's shapes and code paths (64 px, the paper's networks and
    configs) with a handful of images and one epoch, so that branches taken only at full scale are
    exercised in minutes on a CPU. Any value but empty or ``0`` turns it on.

    Returns
    -------
    bool
    """
    return os.environ.get("CDAE_SMOKE", "").strip() not in ("", "0")


def by_profile(quick: Any, full: Any, smoke_value: Any = None, profile: str | None = None) -> Any:
    """A chapter's size for the current profile.

    Parameters
    ----------
    quick, full : any
        The values of the quick and full profiles.
    smoke_value : any, optional
        The value on the smoke path (:func:`~cdae_lite.paper.profiles.smoke` with the full profile); default: ``quick``.
    profile : str, optional
        The profile (default: :func:`get_profile`'s).

    Returns
    -------
    any
        ``quick``, ``full`` or ``smoke_value``.

    >>> by_profile(12, 48, profile="quick"), by_profile(12, 48, profile="full")
    (12, 48)
    """
    if get_profile(profile) == "quick":
        return quick
    return (quick if smoke_value is None else smoke_value) if smoke() else full


def quick_overrides(cls: type) -> dict[str, Any]:
    """The quick profile's field values of a config class.

    Parameters
    ----------
    cls : type
        A :class:`ProfiledConfig` (its own ``quick_overrides``) or a library config (its row of
        :data:`QUICK_OVERRIDES`; none when it has no row).

    Returns
    -------
    dict
        Field name to value.
    """
    return _overrides(cls, "quick_overrides", QUICK_OVERRIDES)


def _overrides(cls: type, method: str, table: dict) -> dict[str, Any]:
    if isinstance(cls, type) and issubclass(cls, ProfiledConfig):
        return getattr(cls, method)()
    return dict(table.get(cls, {}))


def smoke_overrides(cls: type) -> dict[str, Any]:
    """The smoke path's field values of a config class (as :func:`quick_overrides`, from :data:`SMOKE_OVERRIDES`)."""
    return _overrides(cls, "smoke_overrides", SMOKE_OVERRIDES)


def quick(cls: type[C], **overrides: Any) -> C:
    """A config at the quick profile: its quick overrides, then ``overrides``.

    Parameters
    ----------
    cls : type
        A config class (a frozen dataclass whose defaults are the full profile).
    **overrides
        Field values that win over the profile's.

    Returns
    -------
    C
        An instance of ``cls``.

    >>> quick(SimulationConfig).image_size, SimulationConfig().image_size
    (32, 64)
    """
    return cls(**{**quick_overrides(cls), **overrides})


def for_profile(cls: type[C], profile: str | None = None, **overrides: Any) -> C:
    """A config at a profile: :func:`quick`, or the defaults (with the smoke overrides on the smoke path).

    Parameters
    ----------
    cls : type
        A config class.
    profile : str, optional
        ``"quick"`` or ``"full"`` (default: :func:`get_profile`'s).
    **overrides
        Field values that win over the profile's.

    Returns
    -------
    C
        An instance of ``cls``.
    """
    if get_profile(profile) == "quick":
        return quick(cls, **overrides)
    return cls(**{**(smoke_overrides(cls) if smoke() else {}), **overrides})


class ProfiledConfig:
    """What the paper's experiment configs share: :meth:`full`, :meth:`quick`, :meth:`for_profile`, :meth:`as_dict`.

    A frozen dataclass that derives from it has the paper's values as its defaults (:meth:`full`) and
    names the changes of its CPU-sized variant in :meth:`quick_overrides` and of the smoke path in
    :meth:`smoke_overrides`.
    """

    @classmethod
    def quick_overrides(cls) -> dict:
        """Field values of the quick variant (none by default).

        Returns
        -------
        dict
        """
        return {}

    @classmethod
    def smoke_overrides(cls) -> dict:
        """Field values of the smoke path (:func:`~cdae_lite.paper.profiles.smoke`): sizes and epochs only, never shapes.

        Returns
        -------
        dict
        """
        return {}

    @classmethod
    def quick(cls, **overrides):
        """The quick profile: :meth:`quick_overrides`, then ``overrides``.

        Parameters
        ----------
        **overrides
            Field values that win.

        Returns
        -------
        ProfiledConfig
        """
        return quick(cls, **overrides)

    @classmethod
    def full(cls, **overrides):
        """The full profile: the defaults (the paper's), then ``overrides`` (field values that win)."""
        return cls(**overrides)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides):
        """:meth:`quick` or :meth:`full` by :func:`get_profile`; with :meth:`smoke_overrides` on the smoke path.

        Parameters
        ----------
        profile : str, optional
            ``"quick"`` or ``"full"`` (default: :func:`get_profile`'s).
        **overrides
            Field values that win.

        Returns
        -------
        ProfiledConfig
        """
        return for_profile(cls, profile, **overrides)

    def as_dict(self) -> dict:
        """The config as plain nested dicts (for records and cache keys).

        Returns
        -------
        dict
        """
        return asdict(self)
