"""Event data: samplers and, later, ADC2021 loading."""

from sklearn_aclr.datasets._synthetic import make_adc_events

__all__ = ["make_adc_events"]
