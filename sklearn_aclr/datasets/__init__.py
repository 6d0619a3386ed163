"""Event data: the CMS ADC2021 samples, streaming from HDF5, simulation and the demo set.

The names below are imported on first use (PEP 562): ``import sklearn_aclr.datasets`` loads
neither h5py nor the simulation until a function that needs them is called.
"""

from sklearn_aclr._lazy import attach

# Public name -> module that defines it.
_LAZY = {
    "ADC2021Stream": "sklearn_aclr.datasets._streaming",
    "ADC2021Writer": "sklearn_aclr.datasets._adc2021",
    "ADC2021_SAMPLES": "sklearn_aclr.datasets._adc2021",
    "DEMO_RECIPE": "sklearn_aclr.datasets._demo",
    "EventSource": "sklearn_aclr._sources",
    "PROCESSES": "sklearn_aclr.datasets._processes",
    "Process": "sklearn_aclr.datasets._processes",
    "fetch_adc2021": "sklearn_aclr.datasets._adc2021",
    "get_data_home": "sklearn_aclr.datasets._adc2021",
    "iter_simulated_events": "sklearn_aclr.datasets._simulation",
    "load_adc2021": "sklearn_aclr.datasets._adc2021",
    "load_demo": "sklearn_aclr.datasets._demo",
    "make_adc_events": "sklearn_aclr.datasets._synthetic",
    "open_adc2021": "sklearn_aclr.datasets._adc2021",
    "simulate_events": "sklearn_aclr.datasets._simulation",
    "write_adc2021": "sklearn_aclr.datasets._adc2021",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = attach(__name__, _LAZY)
