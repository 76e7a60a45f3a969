"""Each platform's health as every worker sees it: the calls that failed and the
circuit breaker that stops calling a platform failing persistently."""
