"""Reading a question once into a frozen `Query`."""
