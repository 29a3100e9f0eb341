pub use str0m;
