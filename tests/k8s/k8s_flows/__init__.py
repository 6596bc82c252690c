"""Task modules for the end-to-end Kubernetes executor tests (shipped to action pods as code bundles)."""
