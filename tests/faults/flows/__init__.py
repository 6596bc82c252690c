"""Task modules of the fault matrix."""
