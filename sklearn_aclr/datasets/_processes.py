"""The physics processes the simulation generates: names, Pythia settings, descriptions.

Plain data, importable without numpy or the generators (the command line reads the names).
"""

from dataclasses import dataclass

__all__ = ["PROCESSES", "Process"]


@dataclass(frozen=True)
class Process:
    """A physics process that :func:`simulate_events` can generate.

    Parameters
    ----------
    name : str
        Identifier, for signals the ADC2021 sample name.
    settings : tuple of str
        Pythia 8 settings that select the process and force its decays.
    description : str
        What the process is, in words.
    signal : bool
        Whether it is one of the four ADC2021 signals.
    biased : bool, default=False
        True where the sample models the lepton-filtered process only roughly; see the
        description.

    Examples
    --------
    >>> from sklearn_aclr.datasets import PROCESSES
    >>> PROCESSES["Ato4l"].description
    'A (50 GeV) -> Z Z* -> 4 leptons, produced in gluon fusion'
    """

    name: str
    settings: tuple
    description: str
    signal: bool
    biased: bool = False


PROCESSES = {
    p.name: p
    for p in [
        Process(
            "W_lnu",
            ("WeakSingleBoson:ffbar2W = on", "24:onMode = off", "24:onIfAny = 11 13 15"),
            "W -> l nu (l = e, mu, tau), inclusive in its recoil",
            signal=False,
        ),
        Process(
            "Z_ll",
            ("WeakSingleBoson:ffbar2gmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off",
             "23:onIfAny = 11 13 15"),
            "Z -> l l (l = e, mu, tau), without the photon contribution",
            signal=False,
        ),
        Process(
            "ttbar",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
            "top-pair production with inclusive decays",
            signal=False,
        ),
        Process(
            "QCD_heavy_flavour",
            ("HardQCD:hardbbbar = on", "HardQCD:hardccbar = on", "PhaseSpace:pTHatMin = 20"),
            "b bbar and c cbar pair production above pT-hat 20 GeV. BIASED: leptons come only "
            "from heavy-flavour decays, light-flavour fakes and the soft QCD tail are missing, "
            "so it stands in for the lepton-filtered QCD background only roughly",
            signal=False,
            biased=True,
        ),
        Process(
            "Ato4l",
            ("HiggsSM:gg2H = on", "25:m0 = 50", "25:onMode = off", "25:onIfMatch = 23 23",
             "23:onMode = off", "23:onIfAny = 11 13"),
            "A (50 GeV) -> Z Z* -> 4 leptons, produced in gluon fusion",
            signal=True,
        ),
        Process(
            "leptoquark",
            ("LeptoQuark:gg2LQLQbar = on", "LeptoQuark:qqbar2LQLQbar = on", "42:m0 = 80",
             "42:chargeType = 2", "42:0:products = 5 -15"),
            "leptoquark (80 GeV, charge 2/3) pairs, each LQ -> b tau",
            signal=True,
        ),
        Process(
            "hToTauTau",
            ("HiggsSM:gg2H = on", "25:m0 = 60", "25:onMode = off", "25:onIfMatch = 15 -15"),
            "neutral scalar h0 (60 GeV) -> tau tau, produced in gluon fusion",
            signal=True,
        ),
        Process(
            "hChToTauNu",
            ("Higgs:useBSM = on", "HiggsBSM:ffbar2H+- = on", "37:m0 = 60", "37:onMode = off",
             "37:onIfAny = 15 16"),
            "charged scalar h+ (60 GeV) -> tau nu, produced in f fbar' annihilation",
            signal=True,
        ),
    ]
}
"""The processes :func:`simulate_events` knows, by name."""
