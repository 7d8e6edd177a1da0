"""Live per-track action recognition from DeepStream body-pose messages (``tools/stream.py``, ``posecls stream``).

Modules, one job each: ``messages`` (one batch element -> frames of normalised features, dataset_convert's
validation and :func:`~posecls.datasets.deepstream.pose_features`), ``sources`` (a JSON file, optionally
followed while written; stdin lines; an MQTT topic), ``mqtt`` (URLs, reconnecting paho clients), ``tracks``
(ring buffer per object_id, expiry, cap and eviction), ``engine`` (due windows -> one model call through
:func:`posecls.apis.inference_recognizer` -> sinks), ``sinks`` (JSON lines, MQTT publish, DeepStream
write-back). Guide: docs/streaming.md.
"""
from .engine import BatchResult, Emission, StreamEngine, StreamOptions, StreamSummary, model_input_shape
from .messages import CLOCKS, Frame, MalformedMessage, Message, MessageParser, ParsedMessage
from .mqtt import MqttUrl, parse_mqtt_url
from .sinks import JsonLinesSink, MqttSink, Sink, WriteBackSink, emission_line, emission_record
from .sources import FileSource, MqttSource, Source, StdinSource, open_source
from .tracks import TrackCounts, TrackState, TrackTable

__all__ = ['BatchResult', 'Emission', 'StreamEngine', 'StreamOptions', 'StreamSummary', 'model_input_shape', 'CLOCKS',
           'Frame', 'MalformedMessage', 'Message', 'MessageParser', 'ParsedMessage', 'MqttUrl', 'parse_mqtt_url',
           'JsonLinesSink', 'MqttSink', 'Sink', 'WriteBackSink', 'emission_line', 'emission_record', 'FileSource',
           'MqttSource', 'Source', 'StdinSource', 'open_source', 'TrackCounts', 'TrackState', 'TrackTable']
