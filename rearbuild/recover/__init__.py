"""Recovery inside the rescue system: verify, plan, recreate, restore, finalize."""
