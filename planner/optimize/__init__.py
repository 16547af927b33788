"""Optimisation: candidates, the fleet MILP, diagnosis, placement, verification and the chain
`load -> resolve -> candidates -> MILP -> solve -> verify -> plan`."""
