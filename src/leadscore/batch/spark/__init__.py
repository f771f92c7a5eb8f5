"""The Spark runner (the optional `[spark]` extra): the scoring query transpiled for Spark SQL, the
undecided leads scored by the pure scorer on the executors, results shaped in Spark."""
