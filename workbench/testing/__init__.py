"""Test helpers that speak real protocols on 127.0.0.1: a TF-Serving-compatible server (needs
TensorFlow), TLS certificates, tiny misbehaving endpoints, and an MLServer launcher."""
