"""Task modules the backend tests run (shipped to actions as a source bundle)."""
