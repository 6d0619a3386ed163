"""Event data: the CMS ADC2021 samples, streaming from HDF5, simulation and the demo set."""

from sklearn_aclr._sources import EventSource
from sklearn_aclr.datasets._adc2021 import (
    ADC2021_SAMPLES,
    ADC2021Writer,
    fetch_adc2021,
    get_data_home,
    load_adc2021,
    open_adc2021,
    write_adc2021,
)
from sklearn_aclr.datasets._demo import DEMO_RECIPE, load_demo
from sklearn_aclr.datasets._simulation import (
    PROCESSES,
    Process,
    iter_simulated_events,
    simulate_events,
)
from sklearn_aclr.datasets._streaming import ADC2021Stream
from sklearn_aclr.datasets._synthetic import make_adc_events

__all__ = [
    "ADC2021Stream",
    "ADC2021Writer",
    "ADC2021_SAMPLES",
    "DEMO_RECIPE",
    "EventSource",
    "PROCESSES",
    "Process",
    "fetch_adc2021",
    "get_data_home",
    "iter_simulated_events",
    "load_adc2021",
    "load_demo",
    "make_adc_events",
    "open_adc2021",
    "simulate_events",
    "write_adc2021",
]
