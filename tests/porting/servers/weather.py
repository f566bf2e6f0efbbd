"""Tools as an SDK user writes them: pydantic models in and out, ``Annotated[..., Field(...)]`` constraints,
structured and plain returns, a deliberate ``ToolError`` and a crash.

Run: ``PORTING_TARGET=sdk python tests/porting/servers/weather.py`` (the official SDK) or ``PORTING_TARGET=trio``.
"""

import os
from typing import Annotated

from pydantic import BaseModel, Field

if os.environ.get("PORTING_TARGET", "sdk") == "sdk":
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
else:  # the port: these imports are all that change
    from mcp_trio import Server as MCPServer
    from mcp_trio import ToolError


class Location(BaseModel):
    city: str = Field(description="City name", min_length=1)
    country: str = Field(default="NO", description="ISO 3166 country code", min_length=2, max_length=2)


class WeatherData(BaseModel):
    """Current conditions at a place."""

    temperature: float = Field(description="Temperature in Celsius")
    humidity: float = Field(description="Relative humidity, percent", ge=0, le=100)
    condition: str
    wind_speed: float


mcp = MCPServer("weather", instructions="Weather for Nordic cities.")

READINGS = {"Oslo": (-3.5, 80.0, "snow", 4.2), "Bergen": (6.0, 95.0, "rain", 9.1)}


@mcp.tool()
def get_weather(location: Location) -> WeatherData:
    """Current weather for a location."""
    if location.city not in READINGS:
        raise ToolError(f"no station in {location.city}, {location.country}")
    temperature, humidity, condition, wind = READINGS[location.city]
    return WeatherData(temperature=temperature, humidity=humidity, condition=condition, wind_speed=wind)


@mcp.tool()
def forecast(
    city: Annotated[str, Field(description="City to forecast", min_length=1)],
    days: Annotated[int, Field(ge=1, le=7, description="Number of days ahead")] = 3,
) -> list[float]:
    """Daily highs for the next days."""
    base = READINGS.get(city, (0.0, 0.0, "", 0.0))[0]
    return [base + day for day in range(days)]


@mcp.tool()
def compare(first: Location, second: Location) -> dict[str, float]:
    """Temperature of two places, by city."""
    return {place.city: READINGS.get(place.city, (0.0, 0.0, "", 0.0))[0] for place in (first, second)}


@mcp.tool()
def summary(city: str, metric: bool = True) -> str:
    """A one-line summary for people."""
    temperature = READINGS.get(city, (0.0, 0.0, "", 0.0))[0]
    return f"{city}: {temperature if metric else temperature * 9 / 5 + 32:.1f} degrees"


@mcp.tool()
def calibrate(station: str) -> str:
    """Calibrate a station (always fails: the hardware is missing)."""
    raise RuntimeError(f"sensor bus offline at {station}")


if __name__ == "__main__":
    mcp.run()
