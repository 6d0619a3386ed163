"""Event data: the CMS ADC2021 samples, streaming from HDF5, and samplers."""

from sklearn_aclr.datasets._adc2021 import (
    ADC2021_SAMPLES,
    fetch_adc2021,
    get_data_home,
    load_adc2021,
    open_adc2021,
)
from sklearn_aclr.datasets._streaming import ADC2021Stream
from sklearn_aclr.datasets._synthetic import make_adc_events

__all__ = [
    "ADC2021Stream",
    "ADC2021_SAMPLES",
    "fetch_adc2021",
    "get_data_home",
    "load_adc2021",
    "make_adc_events",
    "open_adc2021",
]
