"""MQTT connections of the stream (paho-mqtt >= 2.0): ``mqtt://HOST[:PORT]/TOPIC`` URLs and reconnecting clients.

Both the source (subscribe) and the publisher sink use :func:`connect`: paho's network thread connects in the
background and, after a broker disconnect (or a broker that is not up yet), reconnects by itself with
exponential backoff from :data:`RECONNECT_MIN_S` to :data:`RECONNECT_MAX_S`; the source subscribes again on
every (re)connection. Connections are anonymous and plain TCP.
"""
import itertools
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

#: first and longest wait between reconnection attempts (paho doubles the wait after each failure)
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
DEFAULT_PORT = 1883
_ids = itertools.count()


@dataclass(frozen=True)
class MqttUrl:
    """A parsed ``mqtt://HOST[:PORT]/TOPIC``.

    Attributes:
        host: Broker host name or address.
        port: Broker port (1883 by default).
        topic: Topic (may hold ``/``; a subscription may use the ``+`` and ``#`` wildcards).
    """

    host: str
    port: int
    topic: str

    def __str__(self) -> str:
        return f'mqtt://{self.host}:{self.port}/{self.topic}'


def is_mqtt_url(text: str) -> bool:
    """True for a text that starts with ``mqtt://``."""
    return isinstance(text, str) and text.lower().startswith('mqtt://')


def parse_mqtt_url(url: str, what: str = 'MQTT URL', wildcards: bool = True) -> MqttUrl:
    """Parse ``mqtt://HOST[:PORT]/TOPIC``.

    Args:
        url: The URL.
        what: The option it came from, for messages.
        wildcards: Allow ``+`` / ``#`` in the topic (subscriptions; publishing needs a plain topic).

    Raises:
        ValueError: naming ``what``, the URL and what is wrong.
    """
    if not is_mqtt_url(url):
        raise ValueError(f'{what} {url!r}: expected mqtt://HOST[:PORT]/TOPIC')
    rest = url[len('mqtt://'):]
    hostport, sep, topic = rest.partition('/')
    if not sep or not topic:
        raise ValueError(f'{what} {url!r}: no topic; expected mqtt://HOST[:PORT]/TOPIC')
    if '@' in hostport:
        raise ValueError(f'{what} {url!r}: user names and passwords are not supported (anonymous connections only)')
    host, colon, port = hostport.rpartition(':') if hostport.count(':') == 1 else (hostport, '', '')
    if not colon:
        host, port = hostport, str(DEFAULT_PORT)
    if not host:
        raise ValueError(f'{what} {url!r}: no host; expected mqtt://HOST[:PORT]/TOPIC')
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'{what} {url!r}: port {port!r} is not a number in 1..65535')
    if not wildcards and ('+' in topic or '#' in topic):
        raise ValueError(f'{what} {url!r}: a topic to publish to cannot hold the wildcards + or #')
    return MqttUrl(host, int(port), topic)


def paho_client() -> Any:
    """The ``paho.mqtt.client`` module (a clear error when paho-mqtt is missing)."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError as e:
        raise RuntimeError(f'MQTT needs paho-mqtt>=2.0 ({e}): pip install "posecls[stream]"') from e
    return mqtt


class Connection:
    """A paho client that connects in the background and reconnects with backoff.

    Args:
        url: Broker and topic.
        role: ``source`` or ``publisher`` (part of the client id).
        on_connect: Called (in paho's thread) after every successful (re)connection with the client.
        on_message: paho ``on_message`` callback (subscribers).
        report: Where connection events are reported (one line each).
        max_queued: Most outgoing messages paho holds while disconnected (publishers; beyond: dropped).

    Attributes:
        connects: Successful connections so far (the first one included).
        disconnects: Unexpected disconnections so far.
    """

    def __init__(self, url: MqttUrl, role: str, on_connect: Optional[Callable[[Any], None]] = None,
                 on_message: Optional[Callable[..., None]] = None, report: Callable[[str], None] = print,
                 max_queued: int = 1000) -> None:
        mqtt = paho_client()
        self.url = url
        self.report = report
        self.connects = 0
        self.disconnects = 0
        self.connected = threading.Event()
        self._on_connect = on_connect
        self._closing = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f'posecls-{role}-{os.getpid()}-{next(_ids)}', clean_session=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.max_queued_messages_set(max_queued)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        if on_message is not None:
            self.client.on_message = on_message
        self.client.connect_async(url.host, url.port, keepalive=30)
        self.client.loop_start()

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, 'is_failure', False):
            self.report(f'{self.url}: the broker refused the connection ({reason}); retrying')
            return
        self.connects += 1
        if self.connects > 1:
            self.report(f'{self.url}: reconnected')
        if self._on_connect is not None:
            self._on_connect(client)
        self.connected.set()

    def _disconnected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        if not self._closing:
            self.disconnects += 1
            self.report(f'{self.url}: disconnected from the broker ({reason}); reconnecting with backoff '
                        f'({RECONNECT_MIN_S:g} s doubling to {RECONNECT_MAX_S:g} s)')

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._closing = True
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
