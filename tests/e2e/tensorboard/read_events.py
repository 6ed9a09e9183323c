"""Decodes a TensorBoard event file independently of the trainer's writer.

Checks the TFRecord framing (length, masked CRC-32C of the length, data, masked
CRC-32C of the data) with a CRC implemented here. Parses each record with Python's
protobuf runtime and the classes that protoc compiled from events.proto. Prints a
JSON summary: file_version, scalars per tag as [step, value] pairs, texts per tag,
hyperparameters, the experiment's metric names and the session end status.

Usage: read_events.py EVENT_FILE GENERATED_MODULE_DIR
"""
import json
import struct
import sys

sys.path.insert(0, sys.argv[2])
import events_pb2  # noqa: E402  (generated at test time by protoc)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob):
    offset = 0
    while offset < len(blob):
        header = blob[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[offset + 8:offset + 12])
        if length_crc != masked(header):
            raise SystemExit(f"invalid length CRC at byte {offset}")
        data = blob[offset + 12:offset + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[offset + 12 + length:offset + 16 + length])
        if len(data) != length or data_crc != masked(data):
            raise SystemExit(f"invalid data CRC or truncated record at byte {offset}")
        yield data
        offset += 16 + length


def main():
    with open(sys.argv[1], "rb") as file:
        blob = file.read()
    result = {"file_version": None, "scalars": {}, "texts": {}, "hparams": {}, "metric_infos": [],
              "end_status": None, "steps": []}
    for data in records(blob):
        event = events_pb2.Event()
        event.ParseFromString(data)
        if event.WhichOneof("what") == "file_version":
            result["file_version"] = event.file_version
            continue
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin == "text":
                result["texts"][value.tag] = value.tensor.string_val[0].decode("utf-8")
            elif plugin == "hparams":
                content = events_pb2.HParamsPluginData()
                content.ParseFromString(value.metadata.plugin_data.content)
                kind = content.WhichOneof("data")
                if kind == "session_start_info":
                    for key, item in content.session_start_info.hparams.items():
                        result["hparams"][key] = getattr(item, item.WhichOneof("kind"))
                elif kind == "experiment":
                    result["metric_infos"] = [info.name.tag for info in content.experiment.metric_infos]
                elif kind == "session_end_info":
                    result["end_status"] = content.session_end_info.status
            else:
                result["scalars"].setdefault(value.tag, []).append([event.step, value.simple_value])
                result["steps"].append(event.step)
    print(json.dumps(result))


main()
