"""Hounsfield units to linear attenuation.

The CT number is defined relative to water and air (Hounsfield 1973)::

    HU = 1000 * (mu - mu_water) / (mu_water - mu_air)

With ``mu_air ~ 0`` (air attenuates ~800x less than water at diagnostic
energies) this inverts to the form used here::

    mu(E) = mu_water(E) * (1 + HU / 1000),   clipped at 0

``mu_water(E)`` is interpolated log-log in the NIST mass attenuation table of
liquid water (J. H. Hubbell and S. M. Seltzer, *Tables of X-Ray Mass Attenuation
Coefficients and Mass Energy-Absorption Coefficients*, NISTIR 5632, 1995, Table 4,
"Water, Liquid"; total attenuation with coherent scattering), times a density of
1.000 g/cm^3.

The model assumes every tissue attenuates with water's energy dependence, which
is accurate for soft tissue and underestimates bone's photoelectric excess at
low energy; a monochromatic *effective* energy stands in for the polychromatic
beam.  The default, 70 keV, is a common effective energy for a 120 kVp
diagnostic beam.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["DEFAULT_ENERGY_KEV", "mu_water", "hu_to_mu"]

#: Default effective photon energy (keV) for HU -> mu.
DEFAULT_ENERGY_KEV = 70.0

# NISTIR 5632 Table 4, water (liquid): photon energy (MeV), mu/rho (cm^2/g).
_NIST_WATER = np.array([
    [1.0e-02, 5.329], [1.5e-02, 1.673], [2.0e-02, 0.8096], [3.0e-02, 0.3756],
    [4.0e-02, 0.2683], [5.0e-02, 0.2269], [6.0e-02, 0.2059], [8.0e-02, 0.1837],
    [1.0e-01, 0.1707], [1.5e-01, 0.1505], [2.0e-01, 0.1370], [3.0e-01, 0.1186],
    [4.0e-01, 0.1061], [5.0e-01, 0.09687], [6.0e-01, 0.08956], [8.0e-01, 0.07865],
    [1.0e+00, 0.07072],
])
_WATER_DENSITY_G_CM3 = 1.000
_E_MIN_KEV = _NIST_WATER[0, 0] * 1000
_E_MAX_KEV = _NIST_WATER[-1, 0] * 1000


def _check_energy(energy_kev) -> float:
    try:
        e = float(energy_kev)
    except (TypeError, ValueError):
        raise InputError(f"`energy_kev` must be a number (keV), not {energy_kev!r}") from None
    if not (_E_MIN_KEV <= e <= _E_MAX_KEV):
        raise InputError(f"`energy_kev` must be within the tabulated {_E_MIN_KEV:g}-{_E_MAX_KEV:g} keV, "
                         f"not {energy_kev!r}")
    return e


def mu_water(energy_kev: float = DEFAULT_ENERGY_KEV) -> float:
    """Linear attenuation coefficient of liquid water (1/mm) at ``energy_kev``.

    Log-log interpolation in the NIST table (NISTIR 5632); 10-1000 keV.

    >>> round(mu_water(60.0), 6)
    0.02059
    """
    e_mev = _check_energy(energy_kev) / 1000.0
    logmu = np.interp(np.log(e_mev), np.log(_NIST_WATER[:, 0]), np.log(_NIST_WATER[:, 1]))
    # cm^2/g * g/cm^3 = 1/cm ; / 10 -> 1/mm
    return float(np.exp(logmu) * _WATER_DENSITY_G_CM3 / 10.0)


def hu_to_mu(hu, *, energy_kev: float = DEFAULT_ENERGY_KEV) -> np.ndarray:
    """Convert Hounsfield units to linear attenuation (1/mm).

    ``mu = mu_water(E) * (1 + HU/1000)``, clipped at 0 (HU below -1000, e.g.
    padding values, become air).

    Parameters
    ----------
    hu : array_like
        Hounsfield units.
    energy_kev : float, keyword-only
        Effective photon energy, 10-1000 keV.  Default 70 keV.

    Returns
    -------
    numpy.ndarray of float32, same shape as ``hu``.
    """
    mw = mu_water(energy_kev)
    hu = np.asarray(hu, dtype=np.float32)
    return np.maximum(np.float32(mw) * (np.float32(1.0) + hu / np.float32(1000.0)), np.float32(0.0))
