"""Tool flows: conversion of a top into a self-contained Verilog folder (``build``), and
synthesis, place and route with Yosys and nextpnr (``synth``)."""
