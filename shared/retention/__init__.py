"""AVG retention: what an organisation keeps, for how long, and what is due to go."""
