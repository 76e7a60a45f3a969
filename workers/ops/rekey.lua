-- Move one identity's keys to the names of its normal form (workers/ops/rekey.py),
-- merging into what the normal name already holds, in one atomic step per pair.
--
-- KEYS = [old, new, old, new, ...]
-- ARGV = [how]: "zset"  a frequency window: the members of both, each at its highest
--                       score, kept as long as the longer expiry;
--               "order" an event-order hash: open the highest, acked the lowest
--                       (events wait for both), kept as long as the longer expiry;
--               "state" a saved profile state: the one under the normal name wins.
-- Or KEYS = [key], ARGV = ["pointer", expected, replacement]: a state pointer
-- rewritten, unless the key has changed since it was read.
-- Or KEYS = [zset], ARGV = ["member", old, new]: a member renamed, at the lower of the
-- two scores (the unsettled identities: a start waits for both).
-- Returns how many old keys were moved, merged or rewritten.
local how = ARGV[1]
local moved = 0

if how == "pointer" then
    if redis.call("get", KEYS[1]) ~= ARGV[2] then
        return 0
    end
    redis.call("set", KEYS[1], ARGV[3], "KEEPTTL")
    return 1
end

if how == "member" then
    local old_score = redis.call("zscore", KEYS[1], ARGV[2])
    if not old_score then
        return 0
    end
    local new_score = redis.call("zscore", KEYS[1], ARGV[3])
    if not new_score or tonumber(old_score) < tonumber(new_score) then
        redis.call("zadd", KEYS[1], old_score, ARGV[3])
    end
    redis.call("zrem", KEYS[1], ARGV[2])
    return 1
end

-- The longer of two expiries read before a merge (a ZUNIONSTORE drops its target's).
local function expire_longer(key, ttl, other_ttl)
    if ttl < 0 or other_ttl < 0 then
        redis.call("persist", key)
    else
        redis.call("pexpire", key, math.max(ttl, other_ttl))
    end
end

local function merge_order(old, new)
    local a = redis.call("hmget", old, "open", "acked")
    local b = redis.call("hmget", new, "open", "acked")
    local open = math.max(tonumber(a[1] or "0"), tonumber(b[1] or "0"))
    local acked = math.min(tonumber(a[2] or "0"), tonumber(b[2] or "0"))
    redis.call("hset", new, "open", open, "acked", acked)
end

for i = 1, #KEYS, 2 do
    local old, new = KEYS[i], KEYS[i + 1]
    if redis.call("exists", old) == 1 then
        if redis.call("exists", new) == 0 then
            redis.call("rename", old, new)
        elseif how == "state" then
            redis.call("del", old)
        else
            local ttl, new_ttl = redis.call("pttl", old), redis.call("pttl", new)
            if how == "zset" then
                redis.call("zunionstore", new, 2, new, old, "AGGREGATE", "MAX")
            else
                merge_order(old, new)
            end
            expire_longer(new, ttl, new_ttl)
            redis.call("del", old)
        end
        moved = moved + 1
    end
end
return moved
