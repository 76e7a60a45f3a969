-- Move sorted sets to a new key prefix, merging into a set already under the new name
-- (members keep their highest score) and keeping the longer of the two expiries.
--
-- KEYS = keys under the old prefix
-- ARGV = [old prefix, new prefix]
-- Returns how many keys were moved.
local old, new = ARGV[1], ARGV[2]
local moved = 0
for _, key in ipairs(KEYS) do
    if string.sub(key, 1, #old) == old and redis.call("exists", key) == 1 then
        local target = new .. string.sub(key, #old + 1)
        local ttl = redis.call("pttl", key)
        if redis.call("exists", target) == 1 then
            local target_ttl = redis.call("pttl", target)
            redis.call("zunionstore", target, 2, target, key, "AGGREGATE", "MAX")
            redis.call("del", key)
            if ttl < 0 or target_ttl < 0 then
                redis.call("persist", target)
            else
                redis.call("pexpire", target, math.max(ttl, target_ttl))
            end
        else
            redis.call("rename", key, target)
        end
        moved = moved + 1
    end
end
return moved
