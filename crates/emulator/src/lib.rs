//! workspace-emulator.
