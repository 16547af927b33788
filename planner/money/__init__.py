"""Money: what hosts cost, bills of materials, rent against buy."""
