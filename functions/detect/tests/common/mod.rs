pub mod events_env;
