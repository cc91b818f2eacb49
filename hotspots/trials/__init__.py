"""Trials and evaluation: allocation, power, patrol dosage from GPS, and effect estimates."""
