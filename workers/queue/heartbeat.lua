-- A worker's heartbeat, in Dramatiq's heartbeat set.
-- KEYS[1]: the heartbeat set; ARGV[1]: now (ms); ARGV[2]: the worker (broker) id
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
