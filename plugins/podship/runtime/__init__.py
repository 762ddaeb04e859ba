"""The runtime: what the plugins use: option tables, the plugin contract, TLS, network errors,
state on disk and its watch. It sits below the plugins and imports none of them."""
