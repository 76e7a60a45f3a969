-- Whether an event may go: when every profile update it waits for is acknowledged or
-- gone, {1, letters...} (and its waits forgotten), else 0.
-- KEYS[1]: the event's waits (a hash: order key suffix -> the sequence it needs acked;
--   a campaign start's every_profile -> its mark, "low" -> the lowest number it found
--   unsettled)
-- ARGV[1]: the order keys' prefix
-- The fixed names (unsettled, let_go, every_profile, cleanups) are locals put before
-- this script when it loads (workers/profiles/order.py). letters: the dead letters of
-- the updates a start waited for that were let go (their scores from low to its mark).
local waits = redis.call("hgetall", KEYS[1])
local mark, low
for i = 1, #waits, 2 do
    local name, number = waits[i], tonumber(waits[i + 1])
    if name == every_profile then
        mark = number
    elseif name == "low" then
        low = number
    else
        local key = ARGV[1] .. name
        local acked = redis.call("hget", key, "acked")
        if redis.call("exists", key) == 1 and tonumber(acked or "0") < number then
            return 0
        end
    end
end
local result = {1}
if mark then
    -- A member whose order key expired or was renamed holds nothing back any more.
    local clear = false
    for _ = 1, cleanups do
        local lowest = redis.call("zrange", unsettled, 0, 0, "WITHSCORES")
        if not lowest[1] or tonumber(lowest[2]) > mark then
            clear = true
            break
        end
        if redis.call("exists", ARGV[1] .. lowest[1]) == 1 then
            return 0
        end
        redis.call("zrem", unsettled, lowest[1])
    end
    if not clear then
        return 0
    end
    local letters = redis.call("zrangebyscore", let_go, low or 0, mark)
    for _, letter in ipairs(letters) do
        result[#result + 1] = letter
    end
end
redis.call("del", KEYS[1])
return result
