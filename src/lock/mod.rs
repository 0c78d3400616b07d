//! Lock outputs.
