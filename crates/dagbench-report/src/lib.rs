//! What a user reads after a run: [`cost`] estimates from a dated price
//! table.

pub mod cost;
