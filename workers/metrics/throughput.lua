-- Count one delivery in its minute's counter, kept ARGV[1] seconds.
-- KEYS[1]: the minute's counter
redis.call('incr', KEYS[1])
redis.call('expire', KEYS[1], ARGV[1])
