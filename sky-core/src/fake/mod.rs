//! FakeCloud: a deterministic simulated cloud (coming with its own module files).
