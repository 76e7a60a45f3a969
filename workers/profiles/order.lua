-- Whether an event may go: 1 (and its waits forgotten) when every profile update it
-- waits for is acknowledged or gone, else 0.
-- KEYS[1]: the event's waits (a hash: order key suffix -> the sequence it needs acked)
-- ARGV[1]: the order keys' prefix
local waits = redis.call("hgetall", KEYS[1])
for i = 1, #waits, 2 do
    local key = ARGV[1] .. waits[i]
    local acked = redis.call("hget", key, "acked")
    if redis.call("exists", key) == 1 and tonumber(acked or "0") < tonumber(waits[i + 1]) then
        return 0
    end
end
redis.call("del", KEYS[1])
return 1
