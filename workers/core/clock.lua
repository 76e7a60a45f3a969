-- Redis's clock in milliseconds: every process reads the same one.
local function now_ms()
    local clock = redis.call("TIME")
    return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
