#!/usr/bin/env python3
"""
A Kubernetes API emulator for tests, good enough for the real helm v4 and kubectl.

It extends kmock's ``KubernetesEmulator`` (an in-memory API server on aiohttp):
kmock provides the HTTP server (``kmock.Server``), the request objects, the
bundled catalogue of built-in resources, the object store (``emu.objects``)
and the user-defined reactions (``emu['get /version'] << {...}``), which keep
precedence over the emulation.  This module replaces kmock's request routing
with one that behaves closely enough to a real kube-apiserver for helm and
kubectl (see README.md next to this file for what is emulated and what is not),
and adds an optional controller loop that makes workloads ready.

Run as a program::

    python emulator.py --port 0 --port-file /tmp/port --kubeconfig-out /tmp/kc --context emu1

It listens on 127.0.0.1 (plain HTTP), writes the port to --port-file once it
listens, and stops cleanly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import datetime
import fcntl
import hashlib
import itertools
import json
import os
import random
import re
import signal
import string
import sys
import time
import traceback
import uuid
from collections import deque
from typing import Any, Callable, Iterable

import aiohttp.web
import attrs
import jsonpatch
import kmock

try:  # optional: only needed for YAML request bodies and for merging YAML kubeconfigs
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

KUBE_VERSION = {'major': '1', 'minor': '35', 'gitVersion': 'v1.35.0-kube-emulator'}
DEFAULT_BROKEN_PATTERN = r':[^/:@]*broken[^/:@]*(@.*)?$'   # the image's tag contains "broken"
DEFAULT_NAMESPACES = ('default', 'kube-system', 'kube-public', 'kube-node-lease')
JSON_CT = 'application/json'
MAX_BODY = 3 * 1024 * 1024 + 64 * 1024    # kube-apiserver's request size limit is 3 MiB
# Groups of the bundled catalogue that this emulator does not serve meaningfully.
DROPPED_GROUPS = {'metrics.k8s.io'}


# --------------------------------------------------------------------------------------------
# Errors rendered as Kubernetes Status objects.
# --------------------------------------------------------------------------------------------

class ApiError(kmock.KubernetesError):
    """A Kubernetes API error (kmock's error type), rendered as a ``Status``."""


def status_error(code: int, reason: str, message: str, details: dict | None = None) -> ApiError:
    return ApiError(status=code, reason=reason, message=message, details=details)


def not_found(res: 'Res | None', name: str | None) -> ApiError:
    if res is None:
        return status_error(404, 'NotFound', 'the server could not find the requested resource')
    return status_error(404, 'NotFound', f'{res.gr} "{name}" not found',
                        {'name': name, 'group': res.group, 'kind': res.plural})


def already_exists(res: 'Res', name: str) -> ApiError:
    return status_error(409, 'AlreadyExists', f'{res.gr} "{name}" already exists',
                        {'name': name, 'group': res.group, 'kind': res.plural})


def conflict(res: 'Res', name: str, why: str) -> ApiError:
    return status_error(409, 'Conflict',
                        f'Operation cannot be fulfilled on {res.gr} "{name}": {why}',
                        {'name': name, 'group': res.group, 'kind': res.plural})


def bad_request(message: str) -> ApiError:
    return status_error(400, 'BadRequest', message)


# --------------------------------------------------------------------------------------------
# Small helpers.
# --------------------------------------------------------------------------------------------

def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value, '%Y-%m-%dT%H:%M:%SZ').replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def human_age(ts: str | None) -> str:
    t = parse_iso(ts)
    if t is None:
        return '<unknown>'
    s = max(0, int(time.time() - t))
    if s < 120:
        return f'{s}s'
    if s < 7200:
        return f'{s // 60}m'
    if s < 172800:
        return f'{s // 3600}h'
    return f'{s // 86400}d'


def rand_suffix(n: int = 5) -> str:
    return ''.join(random.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(n))


def short_hash(data: Any, n: int = 10) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    # Kubernetes' pod-template-hash uses a "safe" alphabet; any lowercase alnum string works.
    return ''.join(c for c in digest if c in string.hexdigits.lower())[:n]


def meta(obj: dict) -> dict:
    m = obj.get('metadata')
    if not isinstance(m, dict):
        m = obj['metadata'] = {}
    return m


def without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def get_path(obj: Any, dotted: str) -> Any:
    cur = obj
    for part in dotted.split('.'):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# --------------------------------------------------------------------------------------------
# Label and field selectors.
# --------------------------------------------------------------------------------------------

_SEL_SPLIT = re.compile(r',(?![^()]*\))')


def parse_label_selector(text: str | None) -> list[tuple[str, str, Any]]:
    reqs: list[tuple[str, str, Any]] = []
    for raw in _SEL_SPLIT.split(text or ''):
        term = raw.strip()
        if not term:
            continue
        m = re.match(r'^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$', term)
        if m:
            values = {v.strip() for v in m.group(3).split(',') if v.strip() or True}
            reqs.append((m.group(1), m.group(2), values))
        elif term.startswith('!'):
            reqs.append((term[1:].strip(), '!exists', None))
        elif '!=' in term:
            k, v = term.split('!=', 1)
            reqs.append((k.strip(), '!=', v.strip()))
        elif '==' in term:
            k, v = term.split('==', 1)
            reqs.append((k.strip(), '=', v.strip()))
        elif '=' in term:
            k, v = term.split('=', 1)
            reqs.append((k.strip(), '=', v.strip()))
        else:
            reqs.append((term, 'exists', None))
    return reqs


def labels_match(reqs: list[tuple[str, str, Any]], labels: dict | None) -> bool:
    labels = labels or {}
    for key, op, val in reqs:
        present = key in labels
        cur = labels.get(key)
        if op == '=' and cur != val:
            return False
        if op == '!=' and present and cur == val:
            return False
        if op == 'in' and (not present or cur not in val):
            return False
        if op == 'notin' and present and cur in val:
            return False
        if op == 'exists' and not present:
            return False
        if op == '!exists' and present:
            return False
    return True


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    reqs: list[tuple[str, str, str]] = []
    for raw in (text or '').split(','):
        term = raw.strip()
        if not term:
            continue
        if '!=' in term:
            k, v = term.split('!=', 1)
            reqs.append((k.strip(), '!=', v.strip()))
        elif '==' in term:
            k, v = term.split('==', 1)
            reqs.append((k.strip(), '=', v.strip()))
        elif '=' in term:
            k, v = term.split('=', 1)
            reqs.append((k.strip(), '=', v.strip()))
        else:
            raise bad_request(f'invalid field selector: {term!r}')
    return reqs


def fields_match(reqs: list[tuple[str, str, str]], obj: dict) -> bool:
    for key, op, val in reqs:
        cur = get_path(obj, key)
        cur_s = '' if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
        if op == '=' and cur_s != val:
            return False
        if op == '!=' and cur_s == val:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Protobuf request bodies (only what helm's typed client sends): a minimal wire-format decoder.
# --------------------------------------------------------------------------------------------

def _pb_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _pb_fields(buf: bytes) -> Iterable[tuple[int, int, Any]]:
    i, n = 0, len(buf)
    while i < n:
        key, i = _pb_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _pb_varint(buf, i)
        elif wire == 2:
            length, i = _pb_varint(buf, i)
            val = buf[i:i + length]
            i += length
        elif wire == 1:
            val = buf[i:i + 8]
            i += 8
        elif wire == 5:
            val = buf[i:i + 4]
            i += 4
        else:
            raise ValueError(f'unsupported protobuf wire type {wire}')
        yield field, wire, val


def _pb_int(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


_PB_TIME = {1: ('seconds', 'int'), 2: ('nanos', 'int')}
_PB_OWNERREF = {1: ('kind', 'str'), 3: ('name', 'str'), 4: ('uid', 'str'), 5: ('apiVersion', 'str'),
                6: ('controller', 'bool'), 7: ('blockOwnerDeletion', 'bool')}
_PB_MANAGED = {1: ('manager', 'str'), 2: ('operation', 'str'), 3: ('apiVersion', 'str'),
               4: ('time', 'time'), 6: ('fieldsType', 'str'), 7: ('fieldsV1', 'fieldsv1'),
               8: ('subresource', 'str')}
_PB_OBJECTMETA = {
    1: ('name', 'str'), 2: ('generateName', 'str'), 3: ('namespace', 'str'), 4: ('selfLink', 'str'),
    5: ('uid', 'str'), 6: ('resourceVersion', 'str'), 7: ('generation', 'int'),
    8: ('creationTimestamp', 'time'), 9: ('deletionTimestamp', 'time'),
    10: ('deletionGracePeriodSeconds', 'int'), 11: ('labels', ('map', 'str', 'str')),
    12: ('annotations', ('map', 'str', 'str')), 13: ('ownerReferences', ('list', ('msg', _PB_OWNERREF))),
    14: ('finalizers', ('list', 'str')), 17: ('managedFields', ('list', ('msg', _PB_MANAGED))),
}
_PB_CONDITION = {1: ('type', 'str'), 2: ('status', 'str'), 4: ('lastTransitionTime', 'time'),
                 5: ('reason', 'str'), 6: ('message', 'str')}
_PB_KINDS: dict[str, dict] = {
    'Secret': {1: ('metadata', ('msg', _PB_OBJECTMETA)), 2: ('data', ('map', 'str', 'b64')),
               3: ('type', 'str'), 4: ('stringData', ('map', 'str', 'str')), 5: ('immutable', 'bool')},
    'ConfigMap': {1: ('metadata', ('msg', _PB_OBJECTMETA)), 2: ('data', ('map', 'str', 'str')),
                  3: ('binaryData', ('map', 'str', 'b64')), 4: ('immutable', 'bool')},
    'Namespace': {1: ('metadata', ('msg', _PB_OBJECTMETA)),
                  2: ('spec', ('msg', {1: ('finalizers', ('list', 'str'))})),
                  3: ('status', ('msg', {1: ('phase', 'str'),
                                         2: ('conditions', ('list', ('msg', _PB_CONDITION)))}))},
    'DeleteOptions': {1: ('gracePeriodSeconds', 'int'),
                      2: ('preconditions', ('msg', {1: ('uid', 'str'), 2: ('resourceVersion', 'str')})),
                      3: ('orphanDependents', 'bool'), 4: ('propagationPolicy', 'str'),
                      5: ('dryRun', ('list', 'str')),
                      6: ('ignoreStoreReadErrorWithClusterBreakingPotential', 'bool')},
}


def _pb_value(typ: Any, wire: int, val: Any) -> Any:
    if typ == 'str':
        return val.decode('utf-8')
    if typ == 'b64':
        return base64.b64encode(val).decode('ascii')
    if typ == 'int':
        return _pb_int(val)
    if typ == 'bool':
        return bool(val)
    if typ == 'time':
        t = _pb_message(_PB_TIME, val)
        return datetime.datetime.fromtimestamp(t.get('seconds', 0), tz=datetime.timezone.utc) \
            .strftime('%Y-%m-%dT%H:%M:%SZ')
    if typ == 'fieldsv1':
        raw = dict((f, v) for f, _, v in _pb_fields(val)).get(1, b'{}')
        return json.loads(raw or b'{}')
    if isinstance(typ, tuple) and typ[0] == 'msg':
        return _pb_message(typ[1], val)
    raise ValueError(f'unsupported protobuf type {typ!r}')


def _pb_message(schema: dict, buf: bytes) -> dict:
    out: dict[str, Any] = {}
    for field, wire, val in _pb_fields(buf):
        if field not in schema:
            continue  # unknown fields are skipped, as protobuf does
        name, typ = schema[field]
        if isinstance(typ, tuple) and typ[0] == 'map':
            entry = {f: v for f, _, v in _pb_fields(val)}
            key = _pb_value(typ[1], 2, entry.get(1, b''))
            out.setdefault(name, {})[key] = _pb_value(typ[2], 2, entry.get(2, b''))
        elif isinstance(typ, tuple) and typ[0] == 'list':
            out.setdefault(name, []).append(_pb_value(typ[1], wire, val))
        else:
            out[name] = _pb_value(typ, wire, val)
    return out


def decode_protobuf(body: bytes) -> dict:
    """Decode a ``k8s\\0``-enveloped protobuf body of the few kinds helm's typed client sends."""
    if not body.startswith(b'k8s\x00'):
        raise ValueError('not a Kubernetes protobuf envelope')
    envelope = {f: v for f, _, v in _pb_fields(body[4:])}
    type_meta = {f: v.decode() for f, _, v in _pb_fields(envelope.get(1, b''))}
    api_version, kind = type_meta.get(1, ''), type_meta.get(2, '')
    if kind not in _PB_KINDS:
        raise status_error(415, 'UnsupportedMediaType',
                           f'the emulator cannot decode protobuf bodies of kind {kind!r}; send JSON')
    obj = _pb_message(_PB_KINDS[kind], envelope.get(2, b''))
    obj = {'apiVersion': api_version, 'kind': kind, **obj}
    return obj


# --------------------------------------------------------------------------------------------
# Patching: JSON merge patch, simplified strategic merge patch, server-side apply.
# --------------------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Merge keys of the built-in types' lists (patchStrategy=merge), by field name.
SMP_MERGE_KEYS = {
    'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name',
    'env': 'name', 'volumes': 'name', 'volumeMounts': 'mountPath', 'volumeDevices': 'devicePath',
    'imagePullSecrets': 'name', 'hostAliases': 'ip', 'conditions': 'type', 'ownerReferences': 'uid',
    'topologySpreadConstraints': 'topologyKey', 'secrets': 'name', 'resourceClaims': 'name',
    'schedulingGates': 'name',
}
SMP_PRIMITIVE_MERGE = {'finalizers'}


def _smp_merge_key(field: str, *lists: list) -> str | None:
    if field == 'ports':
        for lst in lists:
            for item in lst or []:
                if isinstance(item, dict) and 'containerPort' in item:
                    return 'containerPort'
        return 'port'
    return SMP_MERGE_KEYS.get(field)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if not (k.startswith('$') or (isinstance(k, str) and '/' in k and k.split('/')[0] in (
                    '$setElementOrder', '$deleteFromPrimitiveList', '$retainKeys')))}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value
                if not (isinstance(v, dict) and v.get('$patch') == 'replace' and len(v) == 1)]
    return value


def _smp_list(field: str, orig: Any, patch: list) -> list:
    orig = list(orig) if isinstance(orig, list) else []
    if any(isinstance(i, dict) and i.get('$patch') == 'replace' for i in patch):
        return [_strip_directives(i) for i in patch
                if not (isinstance(i, dict) and i.get('$patch') == 'replace')]
    key = _smp_merge_key(field, orig, patch)
    if key and all(isinstance(i, dict) for i in patch) and all(isinstance(i, dict) for i in orig):
        result = [copy.deepcopy(i) for i in orig]
        for item in patch:
            kval = item.get(key)
            idx = next((n for n, o in enumerate(result) if o.get(key) == kval), None)
            if item.get('$patch') == 'delete':
                if idx is not None:
                    del result[idx]
            elif idx is not None:
                result[idx] = strategic_merge(result[idx], item)
            else:
                result.append(_strip_directives(item))
        return result
    if field in SMP_PRIMITIVE_MERGE:
        return orig + [i for i in patch if i not in orig]
    return [_strip_directives(i) for i in patch]


def _smp_order(items: list, order: list, field: str) -> list:
    key = _smp_merge_key(field, items)

    def ident(x: Any) -> Any:
        return json.dumps(x.get(key) if key and isinstance(x, dict) else x, sort_keys=True)

    wanted = [ident(o) for o in order]
    pos = {w: n for n, w in enumerate(wanted)}
    ordered = sorted((i for i in items if ident(i) in pos), key=lambda i: pos[ident(i)])
    rest = [i for i in items if ident(i) not in pos]
    return ordered + rest


def strategic_merge(orig: Any, patch: Any) -> Any:
    """A simplified strategic merge patch (merge keys by field name, the common directives)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get('$patch') == 'replace':
        return _strip_directives(without(patch, '$patch'))
    result = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    orders: dict[str, list] = {}
    retain = patch.get('$retainKeys')
    for key, value in patch.items():
        if key in ('$patch', '$retainKeys'):
            continue
        if key.startswith('$setElementOrder/'):
            orders[key.split('/', 1)[1]] = value
            continue
        if key.startswith('$deleteFromPrimitiveList/'):
            field = key.split('/', 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [i for i in result[field] if i not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            if value.get('$patch') == 'delete':
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value)
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _smp_order(result[field], order, field)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


# Server-side apply: ownership is tracked per manager as a set of paths (dict keys only; lists are
# atomic), stored in metadata.managedFields in the FieldsV1 format.
APPLY_META_FIELDS = ('labels', 'annotations', 'finalizers', 'ownerReferences')


def field_paths(obj: Any, prefix: tuple = ()) -> set[tuple]:
    if isinstance(obj, dict) and obj:
        out: set[tuple] = set()
        for k, v in obj.items():
            out |= field_paths(v, prefix + (k,))
        return out
    return {prefix} if prefix else set()


def applied_paths(applied: dict) -> set[tuple]:
    body = without(applied, 'apiVersion', 'kind', 'metadata', 'status')
    paths = field_paths(body)
    m = applied.get('metadata') or {}
    for f in APPLY_META_FIELDS:
        if f in m:
            paths |= field_paths({'metadata': {f: m[f]}})
    return paths


def paths_to_fieldsv1(paths: set[tuple]) -> dict:
    root: dict = {}
    for path in paths:
        cur = root
        for part in path:
            cur = cur.setdefault(f'f:{part}', {})
    return root


def fieldsv1_to_paths(fields: dict, prefix: tuple = ()) -> set[tuple]:
    out: set[tuple] = set()
    for k, v in (fields or {}).items():
        if k == '.':
            continue
        if not k.startswith('f:'):          # k:/v:/i: list items of a real server: treat as atomic
            return {prefix} if prefix else set()
        sub = fieldsv1_to_paths(v, prefix + (k[2:],)) if isinstance(v, dict) and v else set()
        out |= sub or {prefix + (k[2:],)}
    return out


def delete_path(obj: dict, path: tuple) -> None:
    parents = []
    cur: Any = obj
    for part in path[:-1]:
        if not isinstance(cur, dict) or part not in cur:
            return
        parents.append((cur, part))
        cur = cur[part]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    for parent, part in reversed(parents):      # prune the dicts that became empty
        if isinstance(parent.get(part), dict) and not parent[part]:
            del parent[part]
        else:
            break


def deep_merge_atomic_lists(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        result = dict(base)
        for k, v in over.items():
            result[k] = deep_merge_atomic_lists(base.get(k), v)
        return result
    return copy.deepcopy(over)


# --------------------------------------------------------------------------------------------
# A small subset of kube-apiserver's validation (names, labels, string-typed metadata maps):
# the mistakes that charts and manifests make most often. There is no schema validation.
# --------------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_DNS1035_LABEL = re.compile(r'^[a-z]([-a-z0-9]*[a-z0-9])?$')
_DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_QUALIFIED_NAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
# Resources whose names kube-apiserver validates as DNS-1123 subdomains (a conservative list).
_SUBDOMAIN_NAMED = {
    ('', 'configmaps'), ('', 'secrets'), ('', 'pods'), ('', 'serviceaccounts'),
    ('', 'persistentvolumeclaims'), ('', 'endpoints'), ('', 'replicationcontrollers'),
    ('apps', 'deployments'), ('apps', 'statefulsets'), ('apps', 'daemonsets'), ('apps', 'replicasets'),
    ('batch', 'jobs'), ('batch', 'cronjobs'), ('networking.k8s.io', 'ingresses'),
    ('networking.k8s.io', 'networkpolicies'), ('policy', 'poddisruptionbudgets'),
    ('autoscaling', 'horizontalpodautoscalers'),
}


def _invalid(res: 'Res', name: str, field: str, value: Any, why: str) -> ApiError:
    shown = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    kind_group = f'{res.kind}.{res.group}' if res.group else res.kind
    return status_error(422, 'Invalid', f'{kind_group} "{name}" is invalid: {field}: Invalid value: {shown}: {why}',
                        {'name': name, 'group': res.group, 'kind': res.kind,
                         'causes': [{'reason': 'FieldValueInvalid', 'message': f'Invalid value: {shown}: {why}',
                                     'field': field}]})


def _check_string_map(res: 'Res', name: str, field: str, value: Any, labels: bool) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                          f'json: cannot unmarshal {type(value).__name__} into Go struct field {field} '
                          f'of type map[string]string')
    for k, v in value.items():
        if not isinstance(v, str):
            kind = 'number' if isinstance(v, (int, float)) and not isinstance(v, bool) else \
                'bool' if isinstance(v, bool) else 'object' if isinstance(v, (dict, list)) else 'value'
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                              f'json: cannot unmarshal {kind} into Go struct field {field} of type string')
        if not labels:
            continue
        prefix, _, key_name = k.rpartition('/')
        if (prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix))) or \
                not key_name or len(key_name) > 63 or not _QUALIFIED_NAME.match(key_name):
            raise _invalid(res, name, field, k, "name part must consist of alphanumeric characters, '-', '_' "
                                                "or '.', and must start and end with an alphanumeric character, "
                                                "with at most 63 characters (and an optional DNS subdomain "
                                                "prefix and '/')")
        if len(v) > 63:
            raise _invalid(res, name, field, v, 'must be no more than 63 characters')
        if not _LABEL_VALUE.match(v):
            raise _invalid(res, name, field, v, "a valid label must be an empty string or consist of "
                                                "alphanumeric characters, '-', '_' or '.', and must start and "
                                                "end with an alphanumeric character")


def validate_object(res: 'Res', obj: dict) -> None:
    m = obj.get('metadata') or {}
    name = m.get('name') or ''
    if res.key == ('', 'namespaces'):
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            raise _invalid(res, name, 'metadata.name', name, "a lowercase RFC 1123 label must consist of lower "
                           "case alphanumeric characters or '-', and must start and end with an alphanumeric "
                           "character (at most 63 characters)")
    elif res.key == ('', 'services'):
        if len(name) > 63 or not _DNS1035_LABEL.match(name):
            raise _invalid(res, name, 'metadata.name', name, "a DNS-1035 label must consist of lower case "
                           "alphanumeric characters or '-', start with an alphabetic character, and end with an "
                           "alphanumeric character (at most 63 characters)")
    elif res.key in _SUBDOMAIN_NAMED:
        if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
            raise _invalid(res, name, 'metadata.name', name, "a lowercase RFC 1123 subdomain must consist of "
                           "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                           "alphanumeric character")
    elif '/' in name or name in ('.', '..') or '%' in name:
        raise _invalid(res, name, 'metadata.name', name, 'may not contain \'/\' or \'%\'')
    _check_string_map(res, name, 'metadata.labels', m.get('labels'), True)
    _check_string_map(res, name, 'metadata.annotations', m.get('annotations'), False)
    spec = obj.get('spec') if isinstance(obj.get('spec'), dict) else {}
    templates = [('spec.template', spec.get('template'))]
    job_template = spec.get('jobTemplate') if isinstance(spec.get('jobTemplate'), dict) else {}
    if isinstance(job_template.get('spec'), dict):
        templates.append(('spec.jobTemplate.spec.template', job_template['spec'].get('template')))
    for field, tmpl in templates:
        if isinstance(tmpl, dict) and isinstance(tmpl.get('metadata'), dict):
            _check_string_map(res, name, f'{field}.metadata.labels', tmpl['metadata'].get('labels'), True)
            _check_string_map(res, name, f'{field}.metadata.annotations', tmpl['metadata'].get('annotations'),
                              False)
    selector = spec.get('selector')
    if isinstance(selector, dict) and res.group in ('apps', 'batch', 'policy'):
        _check_string_map(res, name, 'spec.selector.matchLabels', selector.get('matchLabels'), True)


# --------------------------------------------------------------------------------------------
# The resource catalogue.
# --------------------------------------------------------------------------------------------

@attrs.define
class Res:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ''
    verbs: list[str] = attrs.field(factory=list)
    short_names: list[str] = attrs.field(factory=list)
    categories: list[str] = attrs.field(factory=list)
    subresources: list[str] = attrs.field(factory=list)

    @property
    def api_version(self) -> str:
        return f'{self.group}/{self.version}' if self.group else self.version

    @property
    def gr(self) -> str:
        return f'{self.plural}.{self.group}' if self.group else self.plural

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.plural

    @property
    def kmock_resource(self) -> kmock.resource:
        return kmock.resource(self.group, self.version, self.plural)


# Kinds whose objects have no metadata.generation on a real server.
NO_GENERATION = {('', 'configmaps'), ('', 'secrets'), ('', 'events'), ('events.k8s.io', 'events'),
                 ('', 'serviceaccounts'), ('', 'endpoints'), ('', 'namespaces'), ('', 'services'),
                 ('discovery.k8s.io', 'endpointslices'), ('coordination.k8s.io', 'leases')}

SUBRESOURCE_KINDS = {'scale': ('autoscaling', 'v1', 'Scale'), 'eviction': ('policy', 'v1', 'Eviction'),
                     'token': ('authentication.k8s.io', 'v1', 'TokenRequest'),
                     'binding': ('', 'v1', 'Binding')}
SUBRESOURCE_VERBS = {'status': ['get', 'patch', 'update'], 'scale': ['get', 'patch', 'update'],
                     'log': ['get'], 'finalize': ['update'], 'approval': ['get', 'patch', 'update']}


# --------------------------------------------------------------------------------------------
# The emulator.
# --------------------------------------------------------------------------------------------

@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    """kmock's KubernetesEmulator, made to behave enough like kube-apiserver for helm and kubectl."""

    controller: bool = True
    controller_interval: float = 0.2
    broken_patterns: list[str] = attrs.field(factory=lambda: [DEFAULT_BROKEN_PATTERN])
    progress_deadline: float = 5.0        # seconds until a broken rollout reports ProgressDeadlineExceeded
    simulate_pods: bool = True
    log_requests: bool = False
    max_requests_kept: int = 200          # kmock keeps every request for assertions; bound it
    max_events_kept: int = 20000          # the watch history (for resuming from a resourceVersion)

    _api: dict[tuple[str, str, str], Res] = attrs.field(factory=dict, init=False)
    _preferred: dict[tuple[str, str], Res] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=1000, init=False)
    _log: deque = attrs.field(factory=deque, init=False)
    _subs: set = attrs.field(factory=set, init=False)
    _request_count: int = attrs.field(default=0, init=False)
    _controller_task: asyncio.Task | None = attrs.field(default=None, init=False)
    _stopping: bool = attrs.field(default=False, init=False)
    _broken_since: dict = attrs.field(factory=dict, init=False)
    _ip_counter: itertools.count = attrs.field(factory=lambda: itertools.count(10), init=False)
    _compiled_broken: list = attrs.field(factory=list, init=False)
    _wake: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _custom: set = attrs.field(factory=set, init=False)     # (group, plural) of CRD-defined resources

    def __attrs_post_init__(self) -> None:
        # Deliberately NOT calling kmock's KubernetesEmulator/Scaffold initialisers: they register
        # kmock's own fallback reactions, which this class replaces with `_route` (see `_handle`).
        self._compiled_broken = [re.compile(p) for p in self.broken_patterns]
        self._resources.load_bundled()
        for res, info in self._resources.items():
            if res.group in DROPPED_GROUPS:
                continue
            self._register(Res(
                group=res.group, version=res.version, plural=res.plural,
                kind=info.kind or res.plural.capitalize(), namespaced=bool(info.namespaced),
                singular=info.singular or (info.kind or '').lower(),
                verbs=sorted(info.verbs), short_names=sorted(info.shortnames),
                categories=sorted(info.categories), subresources=sorted(info.subresources)))
        for ns in DEFAULT_NAMESPACES:
            self._create_internal(self._api['', 'v1', 'namespaces'], None, {
                'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}})
        self._create_internal(self._api['', 'v1', 'services'], 'default', {
            'apiVersion': 'v1', 'kind': 'Service',
            'metadata': {'name': 'kubernetes', 'labels': {'component': 'apiserver', 'provider': 'kubernetes'}},
            'spec': {'type': 'ClusterIP', 'clusterIP': '10.96.0.1', 'clusterIPs': ['10.96.0.1'],
                     'ports': [{'name': 'https', 'port': 443, 'protocol': 'TCP', 'targetPort': 6443}]}})

    def _register(self, res: Res) -> None:
        self._api[res.group, res.version, res.plural] = res
        # The preferred (storage) version per group+resource: the first seen, v1 over betas.
        cur = self._preferred.get(res.key)
        if cur is None or (_version_rank(res.version) > _version_rank(cur.version)):
            self._preferred[res.key] = res

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self):  # type: ignore[override]
        await super().__aenter__()
        if self.controller and self._controller_task is None:
            self._controller_task = asyncio.create_task(self._controller_loop())
        return self

    async def __aexit__(self, *exc: Any) -> None:  # type: ignore[override]
        await self.shutdown()
        await super().__aexit__(*exc)

    async def shutdown(self) -> None:
        """Stop the controller and end all open watch streams (so the HTTP server can close)."""
        self._stopping = True
        for queue, _ in list(self._subs):
            queue.put_nowait(None)
        if self._controller_task is not None:
            self._controller_task.cancel()
            try:
                await self._controller_task
            except asyncio.CancelledError:
                pass
            self._controller_task = None

    # ---------------------------------------------------------------- HTTP entry point

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        started = time.monotonic()
        response: aiohttp.web.StreamResponse
        try:
            request = await self._parse_request(raw)
            response = await self._handle(request)
        except kmock.KubernetesError as e:
            response = self._status_response(e.status, e.reason or 'InternalError', e.message or '',
                                             e.details)
        except aiohttp.web.HTTPException as e:   # e.g. 413 for a body over MAX_BODY
            response = self._status_response(e.status, e.reason.replace(' ', ''), e.text or e.reason)
        except Exception as e:  # a bug in the emulator: make it visible, keep serving
            traceback.print_exc(file=sys.stderr)
            response = self._status_response(500, 'InternalError', f'emulator error: {e!r}')
        if self.log_requests:
            ctype = raw.headers.get('Content-Type') if raw.body_exists else None
            print(f'[kube-emulator] {raw.method} {raw.path_qs} -> {response.status} '
                  f'({(time.monotonic() - started) * 1000:.1f} ms)' + (f' [{ctype}]' if ctype else ''),
                  file=sys.stderr, flush=True)
        return response

    async def _parse_request(self, raw: aiohttp.web.BaseRequest) -> kmock.Request:
        # aiohttp refuses bodies over 1 MiB by default; kube-apiserver accepts up to 3 MiB.
        if getattr(raw, '_client_max_size', None) is not None and raw._client_max_size < MAX_BODY:
            raw._client_max_size = MAX_BODY
        body = await raw.read()
        ctype = (raw.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        data: Any = None
        if body:
            if ctype == 'application/vnd.kubernetes.protobuf':
                data = decode_protobuf(body)
            else:
                try:
                    data = json.loads(body)
                except ValueError:
                    if yaml is None:
                        raise status_error(415, 'UnsupportedMediaType',
                                           'the body is not JSON (install PyYAML for YAML bodies)')
                    try:
                        data = yaml.safe_load(body)
                    except yaml.YAMLError as e:
                        raise bad_request(f'cannot decode the request body: {e}')
        route = _parse_api_path(raw.path)
        self._request_count += 1
        action = None
        if route is not None:
            group, version, ns, plural, name, sub = route
            action = _guess_action(raw.method, name, raw.query)
        else:
            group = version = ns = plural = name = sub = None
        request = kmock.Request(
            id=self._request_count, raw_request=raw, url=raw.url, method=raw.method,
            params=dict(raw.query), headers=dict(raw.headers), cookies=dict(raw.cookies),
            body=body, text=body.decode('utf-8', 'replace'), data=data, action=action,
            resource=None if route is None else kmock.resource(group, version, plural),
            namespace=ns, name=name, subresource=sub,
        )
        self._requests.append(request)
        if len(self._requests) > self.max_requests_kept:
            del self._requests[:len(self._requests) - self.max_requests_kept]
        return request

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        # User-defined kmock reactions (emu[...] << payload) take precedence over the emulation.
        if self._payloads:
            try:
                return await kmock.RawHandler._handle(self, request)
            except NotImplementedError:
                pass
        return await self._route(request)

    # ---------------------------------------------------------------- responses

    @staticmethod
    def _json(data: Any, status: int = 200, content_type: str = JSON_CT) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=json.dumps(data, separators=(',', ':')).encode(),
                                    status=status, content_type=content_type)

    def _status_response(self, code: int, reason: str, message: str,
                         details: dict | None = None) -> aiohttp.web.Response:
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                'message': message, 'reason': reason, 'code': code}
        if details:
            body['details'] = details
        return self._json(body, status=code)

    # ---------------------------------------------------------------- routing

    async def _route(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        path = raw.path.rstrip('/') or '/'
        method = raw.method.upper()
        q = raw.query

        if path in ('/healthz', '/livez', '/readyz'):
            return aiohttp.web.Response(text='ok')
        if path == '/version':
            return self._json(self._version())
        if path == '/':
            return self._json({'paths': sorted({'/api', '/api/v1', '/apis', '/version', '/openapi/v3'}
                                               | {f'/apis/{g}' for g, _, _ in self._api if g}
                                               | {f'/apis/{g}/{v}' for g, v, _ in self._api if g})})
        if path == '/api':
            return self._json({'kind': 'APIVersions', 'versions': ['v1'],
                               'serverAddressByClientCIDRs': [
                                   {'clientCIDR': '0.0.0.0/0', 'serverAddress': raw.host}]})
        if path == '/apis':
            return self._json(self._api_group_list())
        if path.startswith('/openapi/'):
            return self._openapi(path)

        route = _parse_api_path(path)
        if route is None:
            raise not_found(None, None)
        group, version, ns, plural, name, sub = route
        if plural is None:
            if group and version is None:
                return self._json(self._api_group(group))
            return self._json(self._api_resource_list(group, version))
        res = self._api.get((group, version, plural))
        if res is None:
            raise not_found(None, None)
        if not res.namespaced and ns is not None:
            raise not_found(None, None)
        if res.namespaced is False:
            ns = None

        if method == 'GET':
            if q.get('watch') in ('1', 'true', 'True'):
                return await self._watch(request, res, ns, name)
            if name is None:
                return self._respond_list(request, res, self._list(res, ns, q))
            if sub == 'log' and res.key == ('', 'pods'):
                self._get(res, ns, name)  # 404 when there is no such pod
                return aiohttp.web.Response(
                    text=f'[kube-emulator] pod {name} is emulated; it has no logs\n',
                    content_type='text/plain')
            if sub == 'scale':
                return self._json(self._scale_view(res, self._get(res, ns, name)))
            if sub not in (None, 'status'):
                raise not_found(None, None)
            return self._respond_obj(request, res, self._get(res, ns, name))
        if method == 'POST':
            if name is not None:
                raise status_error(405, 'MethodNotAllowed',
                                   f'the emulator does not support POST on {res.plural}/{sub or ""}')
            obj = self._create(res, ns, request.data, q)
            return self._json(self._present(res, obj), status=201)
        if method == 'PUT':
            if name is None:
                raise status_error(405, 'MethodNotAllowed', 'PUT needs a name')
            obj = self._update(res, ns, name, sub, request.data, q)
            return self._json(self._present(res, obj, sub))
        if method == 'PATCH':
            if name is None:
                raise status_error(405, 'MethodNotAllowed', 'PATCH needs a name')
            ctype = (request.headers.get('Content-Type') or '').split(';')[0].strip().lower()
            status, obj = self._patch(res, ns, name, sub, ctype, request, q)
            return self._json(self._present(res, obj, sub), status=status)
        if method == 'DELETE':
            opts = request.data if isinstance(request.data, dict) else {}
            if name is None:
                return self._json(self._delete_collection(res, ns, q, opts))
            return self._json(self._present(res, self._delete(res, ns, name, q, opts)))
        raise status_error(405, 'MethodNotAllowed', f'method {method} is not supported')

    # ---------------------------------------------------------------- discovery

    def _version(self) -> dict:
        return {**KUBE_VERSION, 'gitCommit': '0' * 40, 'gitTreeState': 'clean',
                'buildDate': '2025-12-01T00:00:00Z', 'goVersion': 'go1.25', 'compiler': 'gc',
                'platform': 'linux/amd64'}

    def _group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for g, v, _ in self._api:
            if g and v not in groups.setdefault(g, []):
                groups[g].append(v)
        for g in groups:
            groups[g].sort(key=_version_rank, reverse=True)
        return groups

    def _api_group(self, group: str) -> dict:
        versions = self._group_versions().get(group)
        if not versions:
            raise not_found(None, None)
        return {'kind': 'APIGroup', 'apiVersion': 'v1', 'name': group,
                'versions': [{'groupVersion': f'{group}/{v}', 'version': v} for v in versions],
                'preferredVersion': {'groupVersion': f'{group}/{versions[0]}', 'version': versions[0]}}

    def _api_group_list(self) -> dict:
        return {'kind': 'APIGroupList', 'apiVersion': 'v1',
                'groups': [without(self._api_group(g), 'kind', 'apiVersion')
                           for g in self._group_versions()]}

    def _api_resource_list(self, group: str, version: str | None) -> dict:
        items = [r for (g, v, _), r in self._api.items() if g == group and v == version]
        if not items:
            raise not_found(None, None)
        resources = []
        for r in sorted(items, key=lambda r: r.plural):
            resources.append({'name': r.plural, 'singularName': r.singular or r.kind.lower(),
                              'namespaced': r.namespaced, 'kind': r.kind, 'verbs': r.verbs,
                              **({'shortNames': r.short_names} if r.short_names else {}),
                              **({'categories': r.categories} if r.categories else {})})
            for sub in r.subresources:
                sub_group, sub_version, sub_kind = SUBRESOURCE_KINDS.get(sub, (None, None, r.kind))
                entry = {'name': f'{r.plural}/{sub}', 'singularName': '', 'namespaced': r.namespaced,
                         'kind': sub_kind, 'verbs': SUBRESOURCE_VERBS.get(sub, ['get', 'create'])}
                if sub_group is not None:
                    entry.update({'group': sub_group, 'version': sub_version})
                resources.append(entry)
        return {'kind': 'APIResourceList', 'apiVersion': 'v1',
                'groupVersion': f'{group}/{version}' if group else version, 'resources': resources}

    def _openapi(self, path: str) -> aiohttp.web.Response:
        if path == '/openapi/v3':
            gvs = {(g, v) for g, v, _ in self._api}
            paths = {}
            for g, v in sorted(gvs):
                key = f'apis/{g}/{v}' if g else f'api/{v}'
                paths[key] = {'serverRelativeURL': f'/openapi/v3/{key}?hash={short_hash([g, v, self._crd_epoch()], 32)}'}
            return self._json({'paths': paths})
        m = re.match(r'^/openapi/v3/(?:api/(?P<cv>[^/]+)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))$', path)
        if not m:
            raise not_found(None, None)
        group, version = (m['g'], m['v']) if m['g'] else ('', m['cv'])
        items = [r for (g, v, _), r in self._api.items() if g == group and v == version]
        if not items:
            raise not_found(None, None)
        prefix = f'/apis/{group}/{version}' if group else f'/api/{version}'
        paths = {}
        for r in items:
            url = f'{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}' if r.namespaced \
                else f'{prefix}/{r.plural}/{{name}}'
            # Declaring `fieldValidation` makes kubectl validate server-side (which this emulator
            # does not), instead of client-side with schemas (which this document does not have).
            # No requestBody is declared, so kubectl computes strategic merge patches from its
            # compiled-in types rather than from this (schema-less) document.
            paths[url] = {'patch': {
                'x-kubernetes-group-version-kind': {'group': group, 'version': version, 'kind': r.kind},
                'x-kubernetes-action': 'patch',
                'parameters': [{'name': p, 'in': 'query', 'schema': {'type': 'string'}}
                               for p in ('dryRun', 'fieldManager', 'fieldValidation', 'force')],
                'responses': {'200': {'description': 'OK'}}}}
        return self._json({'openapi': '3.0.0', 'info': {'title': 'Kubernetes (kube-emulator)',
                                                         'version': KUBE_VERSION['gitVersion']},
                           'paths': paths, 'components': {'schemas': {}}})

    def _crd_epoch(self) -> int:
        return len(self._api)

    # ---------------------------------------------------------------- the store

    def _key(self, res: Res, ns: str | None, name: str) -> tuple:
        storage = self._preferred[res.key]
        return (storage.kmock_resource, ns if res.namespaced else None, name)

    def _peek(self, res: Res, ns: str | None, name: str) -> dict | None:
        key = self._key(res, ns, name)
        if key not in self._objects:
            return None
        obj = self._objects[key]
        return None if obj.deleted else obj.raw

    def _get(self, res: Res, ns: str | None, name: str) -> dict:
        obj = self._peek(res, ns, name)
        if obj is None:
            raise not_found(res, name)
        return copy.deepcopy(obj)

    def _iter(self, res: Res, ns: str | None = None) -> Iterable[dict]:
        storage = self._preferred[res.key].kmock_resource
        for (r, o_ns, _), obj in list(self._objects.items()):
            if r == storage and (ns is None or o_ns == ns) and not obj.deleted:
                yield obj.raw

    def _list(self, res: Res, ns: str | None, q: Any) -> list[dict]:
        lsel = parse_label_selector(q.get('labelSelector'))
        fsel = parse_field_selector(q.get('fieldSelector'))
        items = [o for o in self._iter(res, ns)
                 if labels_match(lsel, meta(o).get('labels')) and fields_match(fsel, o)]
        items.sort(key=lambda o: (meta(o).get('namespace') or '', meta(o).get('name') or ''))
        return [copy.deepcopy(o) for o in items]

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _emit(self, res: Res, etype: str, obj: dict, old: dict | None) -> None:
        rv = int(meta(obj).get('resourceVersion') or self._rv)
        event = (rv, res.key, etype, obj, old)
        self._wake.set()
        self._log.append(event)
        while len(self._log) > self.max_events_kept:
            self._log.popleft()
        for sub in list(self._subs):
            queue, matcher = sub
            out = matcher(event)
            if out is not None:
                queue.put_nowait(out)

    def _store(self, res: Res, obj: dict, old: dict | None, dry_run: bool = False) -> dict:
        """Write `obj` (a create when `old` is None), stamp metadata, emit the watch event."""
        validate_object(res, obj)
        _workload_defaults(res, obj)
        m = meta(obj)
        tracks_generation = res.key not in NO_GENERATION and ('spec' in obj or res.key in self._custom)
        if old is not None:
            om = old.get('metadata', {})
            for f in ('uid', 'creationTimestamp'):
                if om.get(f):
                    m[f] = om[f]
            gen = int(om.get('generation') or 1)
            if without(obj, 'metadata', 'status', 'apiVersion', 'kind') != \
                    without(old, 'metadata', 'status', 'apiVersion', 'kind') or \
                    (m.get('deletionTimestamp') and not om.get('deletionTimestamp')):
                gen += 1
            if tracks_generation or 'generation' in om:
                m['generation'] = gen
            else:
                m.pop('generation', None)
        else:
            m.setdefault('uid', str(uuid.uuid4()))
            m['creationTimestamp'] = now_iso()
            if tracks_generation:
                m['generation'] = 1
            else:
                m.pop('generation', None)
        m.pop('selfLink', None)
        obj['apiVersion'] = self._preferred[res.key].api_version
        obj['kind'] = res.kind
        if dry_run:
            m['resourceVersion'] = str(self._rv)
            return obj
        m['resourceVersion'] = str(self._next_rv())
        key = self._key(res, m.get('namespace'), m['name'])
        if old is None and key in self._objects and self._objects[key].deleted:
            del self._objects[key]
        # One version per object: kmock's history would grow without bound under a controller.
        self._objects[key] = obj
        if res.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._register_crd(obj)
        self._emit(res, 'MODIFIED' if old is not None else 'ADDED', copy.deepcopy(obj), old)
        if m.get('deletionTimestamp') and not m.get('finalizers'):
            self._remove(res, m.get('namespace'), m['name'])
        return obj

    def _remove(self, res: Res, ns: str | None, name: str, cascade: bool = True) -> dict | None:
        key = self._key(res, ns, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        obj = self._objects[key].raw
        del self._objects[key]
        final = copy.deepcopy(obj)
        meta(final)['resourceVersion'] = str(self._next_rv())
        self._emit(res, 'DELETED', final, obj)
        if res.key == ('', 'namespaces'):
            for other in list(self._preferred.values()):
                if other.namespaced:
                    for o in list(self._iter(other, name)):
                        self._remove(other, name, meta(o)['name'], cascade=False)
        if res.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._unregister_crd(obj)
        if cascade:
            self._collect_garbage(meta(obj).get('uid'), ns)
        return final

    def _collect_garbage(self, uid: str | None, ns: str | None) -> None:
        if not uid:
            return
        for other in list(self._preferred.values()):
            for o in list(self._iter(other, ns if other.namespaced and ns else None)):
                refs = meta(o).get('ownerReferences') or []
                if any(r.get('uid') == uid for r in refs):
                    self._remove(other, meta(o).get('namespace'), meta(o)['name'])

    def _create_internal(self, res: Res, ns: str | None, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        m = meta(obj)
        if res.namespaced:
            m['namespace'] = ns
        else:
            m.pop('namespace', None)
        self._defaults(res, obj)
        return self._store(res, obj, None)

    # ---------------------------------------------------------------- verbs

    def _check_namespace(self, res: Res, ns: str | None) -> None:
        if res.namespaced and self._peek(self._api['', 'v1', 'namespaces'], None, ns or '') is None:
            raise status_error(404, 'NotFound', f'namespaces "{ns}" not found',
                               {'name': ns, 'kind': 'namespaces'})

    def _prepare_new(self, res: Res, ns: str | None, body: Any) -> dict:
        if not isinstance(body, dict):
            raise bad_request('the request body must be an object')
        obj = copy.deepcopy(body)
        m = meta(obj)
        if not m.get('name'):
            if m.get('generateName'):
                m['name'] = m['generateName'] + rand_suffix()
            else:
                raise status_error(422, 'Invalid', f'{res.kind} is invalid: metadata.name: Required value',
                                   {'kind': res.kind})
        if res.namespaced:
            if m.get('namespace') and ns and m['namespace'] != ns:
                raise bad_request('the namespace of the provided object does not match the namespace '
                                  'sent on the request')
            m['namespace'] = ns or m.get('namespace') or 'default'
        else:
            m.pop('namespace', None)
        for f in ('resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'generation'):
            m.pop(f, None)
        return obj

    def _defaults(self, res: Res, obj: dict) -> None:
        """The few server-side defaults that clients notice."""
        if res.key == ('', 'secrets'):
            string_data = obj.pop('stringData', None) or {}
            if string_data:
                data = obj.setdefault('data', {}) or {}
                for k, v in string_data.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
                obj['data'] = data
            obj.setdefault('type', 'Opaque')
        elif res.key == ('', 'namespaces'):
            obj.setdefault('spec', {'finalizers': ['kubernetes']})
            obj['status'] = {'phase': 'Active'}
        elif res.key == ('', 'services'):
            spec = obj.setdefault('spec', {})
            spec.setdefault('type', 'ClusterIP')
            if spec.get('type') != 'ExternalName' and not spec.get('clusterIP'):
                n = next(self._ip_counter)
                ip = f'10.96.{(n // 250) % 250}.{n % 250 + 2}'
                spec['clusterIP'] = ip
                spec['clusterIPs'] = [ip]
            spec.setdefault('sessionAffinity', 'None')
            for port in spec.get('ports') or []:
                if isinstance(port, dict):
                    port.setdefault('protocol', 'TCP')
                    port.setdefault('targetPort', port.get('port'))
        elif res.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            names = (obj.get('spec') or {}).get('names') or {}
            obj['status'] = {
                'acceptedNames': names, 'storedVersions': [
                    v.get('name') for v in (obj.get('spec') or {}).get('versions') or [] if v.get('storage')],
                'conditions': [
                    {'type': 'NamesAccepted', 'status': 'True', 'reason': 'NoConflicts',
                     'message': 'no conflicts found', 'lastTransitionTime': now_iso()},
                    {'type': 'Established', 'status': 'True', 'reason': 'InitialNamesAccepted',
                     'message': 'the initial names have been accepted', 'lastTransitionTime': now_iso()}]}

    def _has_status_subresource(self, res: Res) -> bool:
        return 'status' in res.subresources

    def _create(self, res: Res, ns: str | None, body: Any, q: Any) -> dict:
        obj = self._prepare_new(res, ns, body)
        m = meta(obj)
        if self._peek(res, m.get('namespace'), m['name']) is not None:
            raise already_exists(res, m['name'])
        self._check_namespace(res, m.get('namespace'))
        if self._has_status_subresource(res) and res.key != ('', 'namespaces'):
            obj.pop('status', None)
        self._defaults(res, obj)
        dry = bool(q.get('dryRun'))
        return self._store(res, obj, None, dry_run=dry)

    def _update(self, res: Res, ns: str | None, name: str, sub: str | None, body: Any, q: Any) -> dict:
        if not isinstance(body, dict):
            raise bad_request('the request body must be an object')
        old = self._peek(res, ns, name)
        if sub == 'scale':
            if old is None:
                raise not_found(res, name)
            new = copy.deepcopy(old)
            new.setdefault('spec', {})['replicas'] = (body.get('spec') or {}).get('replicas', 0)
            return self._store(res, new, old, dry_run=bool(q.get('dryRun')))
        if old is None:
            if sub is not None:
                raise not_found(res, name)
            # kube-apiserver refuses PUT-to-create for most resources.
            raise not_found(res, name)
        want_rv = (body.get('metadata') or {}).get('resourceVersion')
        if want_rv and want_rv != old['metadata'].get('resourceVersion'):
            raise conflict(res, name, 'the object has been modified; please apply your changes to the '
                                      'latest version and try again')
        if sub == 'status':
            new = copy.deepcopy(old)
            if 'status' in body:
                new['status'] = copy.deepcopy(body['status'])
            else:
                new.pop('status', None)
        elif sub is not None:
            raise status_error(405, 'MethodNotAllowed', f'PUT on {res.plural}/{sub} is not supported')
        else:
            new = copy.deepcopy(body)
            m = meta(new)
            m['name'] = name
            if res.namespaced:
                m['namespace'] = ns
            if self._has_status_subresource(res):
                if 'status' in old:
                    new['status'] = copy.deepcopy(old['status'])
                else:
                    new.pop('status', None)
            self._keep_system_meta(new, old)
            if res.key == ('', 'secrets'):
                self._defaults(res, new)
        return self._store(res, new, old, dry_run=bool(q.get('dryRun')))

    @staticmethod
    def _keep_system_meta(new: dict, old: dict) -> None:
        m, om = meta(new), old.get('metadata') or {}
        for f in ('uid', 'creationTimestamp', 'deletionTimestamp', 'generation'):
            if f in om:
                m[f] = om[f]
            else:
                m.pop(f, None)
        if 'managedFields' not in m and 'managedFields' in om:
            m['managedFields'] = om['managedFields']

    def _patch(self, res: Res, ns: str | None, name: str, sub: str | None, ctype: str,
               request: kmock.Request, q: Any) -> tuple[int, dict]:
        body = request.data
        dry = bool(q.get('dryRun'))
        old = self._peek(res, ns, name)
        if ctype == 'application/apply-patch+yaml':
            return self._apply(res, ns, name, sub, body, q, old)
        if old is None:
            raise not_found(res, name)
        base = copy.deepcopy(old)
        if sub == 'scale':
            base = self._scale_view(res, base)
        try:
            if ctype == 'application/json-patch+json':
                if not isinstance(body, list):
                    raise bad_request('a JSON patch must be a list of operations')
                patched = jsonpatch.apply_patch(base, body)
            elif ctype == 'application/merge-patch+json':
                patched = merge_patch(base, body)
            elif ctype == 'application/strategic-merge-patch+json':
                patched = strategic_merge(base, body)
            else:
                raise status_error(415, 'UnsupportedMediaType',
                                   'the body of the request was in an unknown format - accepted media '
                                   'types include: application/json-patch+json, application/merge-patch+json, '
                                   'application/apply-patch+yaml, application/strategic-merge-patch+json')
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise status_error(422, 'Invalid', f'the JSON patch could not be applied: {e}')
        if not isinstance(patched, dict):
            raise bad_request('the patch did not produce an object')
        want_rv = (patched.get('metadata') or {}).get('resourceVersion')
        if sub != 'scale' and want_rv and want_rv != old['metadata'].get('resourceVersion'):
            raise conflict(res, name, 'the object has been modified; please apply your changes to the '
                                      'latest version and try again')
        new = self._merge_by_subresource(res, old, patched, sub)
        return 200, self._store(res, new, old, dry_run=dry)

    def _merge_by_subresource(self, res: Res, old: dict, patched: dict, sub: str | None) -> dict:
        if sub == 'status':
            new = copy.deepcopy(old)
            if 'status' in patched:
                new['status'] = patched['status']
            else:
                new.pop('status', None)
            return new
        if sub == 'scale':
            new = copy.deepcopy(old)
            new.setdefault('spec', {})['replicas'] = (patched.get('spec') or {}).get('replicas', 0)
            return new
        if sub is not None:
            raise status_error(405, 'MethodNotAllowed', f'PATCH on {res.plural}/{sub} is not supported')
        new = patched
        m = meta(new)
        m['name'] = old['metadata']['name']
        if res.namespaced:
            m['namespace'] = old['metadata'].get('namespace')
        if self._has_status_subresource(res):
            if 'status' in old:
                new['status'] = copy.deepcopy(old['status'])
            else:
                new.pop('status', None)
        self._keep_system_meta(new, old)
        if res.key == ('', 'secrets'):
            self._defaults(res, new)
        return new

    def _apply(self, res: Res, ns: str | None, name: str, sub: str | None, body: Any, q: Any,
               old: dict | None) -> tuple[int, dict]:
        if not isinstance(body, dict):
            raise bad_request('an apply patch must be an object')
        manager = q.get('fieldManager')
        if not manager:
            raise status_error(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                               'Required value: is required for apply patch')
        dry = bool(q.get('dryRun'))
        bm = body.get('metadata') or {}
        if bm.get('name') and bm['name'] != name:
            raise bad_request('the name of the object does not match the name on the URL')
        sub_key = sub or ''
        if sub == 'status':
            applied = {'status': body.get('status')} if 'status' in body else {}
            paths = field_paths(applied)
        else:
            applied = without(body, 'status')
            paths = applied_paths(applied)
        entry = {'manager': manager, 'operation': 'Apply', 'apiVersion': body.get('apiVersion') or res.api_version,
                 'time': now_iso(), 'fieldsType': 'FieldsV1', 'fieldsV1': paths_to_fieldsv1(paths)}
        if sub:
            entry['subresource'] = sub
        if old is None:
            if sub is not None:
                raise not_found(res, name)
            obj = self._prepare_new(res, ns, {**applied, 'metadata': {**bm, 'name': name}})
            self._check_namespace(res, meta(obj).get('namespace'))
            obj.pop('status', None) if self._has_status_subresource(res) else None
            meta(obj)['managedFields'] = [entry]
            self._defaults(res, obj)
            return 201, self._store(res, obj, None, dry_run=dry)

        new = copy.deepcopy(old)
        managed = [e for e in (meta(new).get('managedFields') or []) if isinstance(e, dict)]
        mine = [e for e in managed if e.get('manager') == manager and e.get('operation') == 'Apply'
                and (e.get('subresource') or '') == sub_key]
        others = [e for e in managed if e not in mine]
        prev_paths: set[tuple] = set()
        for e in mine:
            prev_paths |= fieldsv1_to_paths(e.get('fieldsV1') or {})
        other_paths: set[tuple] = set()
        for e in others:
            if e.get('operation') == 'Apply':
                other_paths |= fieldsv1_to_paths(e.get('fieldsV1') or {})
        for path in sorted(prev_paths - paths - other_paths, key=len, reverse=True):
            delete_path(new, path)
        if sub == 'status':
            if 'status' in applied:
                new['status'] = deep_merge_atomic_lists(new.get('status'), applied['status'])
        else:
            merged_body = without(applied, 'metadata', 'apiVersion', 'kind')
            new = deep_merge_atomic_lists(new, merged_body)
            nm = meta(new)
            for f in APPLY_META_FIELDS:
                if f in bm:
                    nm[f] = deep_merge_atomic_lists(nm.get(f), bm[f])
        meta(new)['managedFields'] = others + [entry]
        new = self._merge_by_subresource(res, old, new, sub) if sub != 'status' else new
        if sub is None:
            meta(new)['managedFields'] = others + [entry]
        return 200, self._store(res, new, old, dry_run=dry)

    def _delete(self, res: Res, ns: str | None, name: str, q: Any, opts: dict) -> dict:
        old = self._peek(res, ns, name)
        if old is None:
            raise not_found(res, name)
        pre = opts.get('preconditions') or {}
        if pre.get('uid') and pre['uid'] != old['metadata'].get('uid'):
            raise conflict(res, name, 'Precondition failed: UID in precondition does not match')
        if pre.get('resourceVersion') and pre['resourceVersion'] != old['metadata'].get('resourceVersion'):
            raise conflict(res, name, 'Precondition failed: ResourceVersion in precondition does not match')
        if q.get('dryRun') or opts.get('dryRun'):
            return copy.deepcopy(old)
        cascade = (q.get('propagationPolicy') or opts.get('propagationPolicy')) != 'Orphan' \
            and not opts.get('orphanDependents')
        if meta(old).get('finalizers'):
            if meta(old).get('deletionTimestamp'):
                return copy.deepcopy(old)
            new = copy.deepcopy(old)
            meta(new)['deletionTimestamp'] = now_iso()
            meta(new)['deletionGracePeriodSeconds'] = 0
            return self._store(res, new, old)
        final = self._remove(res, ns, name, cascade=cascade)
        if res.key == ('', 'namespaces') and final is not None:
            final['status'] = {'phase': 'Terminating'}
        return final or old

    def _delete_collection(self, res: Res, ns: str | None, q: Any, opts: dict) -> dict:
        items = self._list(res, ns, q)
        out = []
        for o in items:
            try:
                out.append(self._present(res, self._delete(res, meta(o).get('namespace'), meta(o)['name'],
                                                           q, opts)))
            except ApiError:
                pass
        return {'kind': f'{res.kind}List', 'apiVersion': res.api_version,
                'metadata': {'resourceVersion': str(self._rv)}, 'items': out}

    def _scale_view(self, res: Res, obj: dict) -> dict:
        if res.key not in (('apps', 'deployments'), ('apps', 'statefulsets'), ('apps', 'replicasets'),
                           ('', 'replicationcontrollers')):
            raise not_found(None, None)
        m = obj['metadata']
        sel = (obj.get('spec') or {}).get('selector') or {}
        labels = sel.get('matchLabels', sel) if isinstance(sel, dict) else {}
        return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
                'metadata': {k: m[k] for k in ('name', 'namespace', 'uid', 'resourceVersion',
                                                'creationTimestamp') if k in m},
                'spec': {'replicas': (obj.get('spec') or {}).get('replicas', 1)},
                'status': {'replicas': (obj.get('status') or {}).get('replicas', 0),
                           'selector': ','.join(f'{k}={v}' for k, v in (labels or {}).items()
                                                if isinstance(v, str))}}

    # ---------------------------------------------------------------- CRDs

    def _register_crd(self, crd: dict) -> None:
        spec = crd.get('spec') or {}
        names = spec.get('names') or {}
        if not spec.get('group') or not names.get('plural'):
            return
        for v in spec.get('versions') or []:
            if not v.get('served', True):
                continue
            subs = sorted(k for k in ((v.get('subresources') or {}).keys()) if k in ('status', 'scale'))
            res = Res(group=spec['group'], version=v['name'], plural=names['plural'],
                      kind=names.get('kind') or names['plural'].capitalize(),
                      namespaced=spec.get('scope', 'Namespaced') == 'Namespaced',
                      singular=names.get('singular') or names.get('kind', '').lower(),
                      verbs=['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update',
                             'watch'],
                      short_names=list(names.get('shortNames') or []),
                      categories=list(names.get('categories') or []), subresources=subs)
            self._register(res)
            self._custom.add(res.key)
            self._resources[res.kmock_resource] = kmock.ResourceInfo(
                kind=res.kind, singular=res.singular, namespaced=res.namespaced, verbs=res.verbs,
                shortnames=res.short_names, categories=res.categories, subresources=res.subresources)

    def _unregister_crd(self, crd: dict) -> None:
        spec = crd.get('spec') or {}
        plural = (spec.get('names') or {}).get('plural')
        group = spec.get('group')
        for key in [k for k in self._api if k[0] == group and k[2] == plural]:
            res = self._api.pop(key)
            for o in list(self._iter(res)) if self._preferred.get(res.key) is not None else []:
                self._remove(res, meta(o).get('namespace'), meta(o)['name'])
            self._preferred.pop(res.key, None)
            self._custom.discard(res.key)
            if res.kmock_resource in self._resources:
                del self._resources[res.kmock_resource]

    # ---------------------------------------------------------------- presentation

    def _present(self, res: Res, obj: dict, sub: str | None = None) -> dict:
        if sub == 'scale':
            return self._scale_view(res, obj)
        out = copy.deepcopy(obj)
        out['apiVersion'] = res.api_version
        out['kind'] = res.kind
        return out

    @staticmethod
    def _accept(request: kmock.Request) -> str:
        accept = request.headers.get('Accept') or ''
        for part in accept.split(','):
            params = dict(p.strip().split('=', 1) for p in part.split(';')[1:] if '=' in p)
            kind = params.get('as')
            if kind in ('Table', 'PartialObjectMetadata', 'PartialObjectMetadataList'):
                return kind
            media = part.split(';')[0].strip()
            if media in ('application/json', '*/*', 'application/vnd.kubernetes.protobuf',
                         'application/yaml', ''):
                return 'json'
        return 'json'

    def _respond_obj(self, request: kmock.Request, res: Res, obj: dict) -> aiohttp.web.Response:
        mode = self._accept(request)
        if mode == 'Table':
            return self._json(self._table(res, [obj], request.params.get('includeObject')))
        if mode.startswith('PartialObjectMetadata'):
            return self._json(self._pom(obj))
        return self._json(self._present(res, obj))

    def _respond_list(self, request: kmock.Request, res: Res, items: list[dict]) -> aiohttp.web.Response:
        mode = self._accept(request)
        if mode == 'Table':
            return self._json(self._table(res, items, request.params.get('includeObject')))
        if mode.startswith('PartialObjectMetadata'):
            return self._json({'kind': 'PartialObjectMetadataList', 'apiVersion': 'meta.k8s.io/v1',
                               'metadata': {'resourceVersion': str(self._rv)},
                               'items': [self._pom(o) for o in items]})
        return self._json({'kind': f'{res.kind}List', 'apiVersion': res.api_version,
                           'metadata': {'resourceVersion': str(self._rv)},
                           'items': [self._present(res, o) for o in items]})

    @staticmethod
    def _pom(obj: dict) -> dict:
        return {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1',
                'metadata': copy.deepcopy(obj.get('metadata') or {})}

    def _table(self, res: Res, items: list[dict], include: str | None) -> dict:
        cols: list[tuple[str, str, Callable[[dict], Any]]] = [('Name', 'name', lambda o: o['metadata']['name'])]
        st = lambda o: o.get('status') or {}     # noqa: E731
        sp = lambda o: o.get('spec') or {}       # noqa: E731
        if res.key == ('apps', 'deployments'):
            cols += [('Ready', '', lambda o: f"{st(o).get('readyReplicas', 0)}/{sp(o).get('replicas', 1)}"),
                     ('Up-to-date', '', lambda o: st(o).get('updatedReplicas', 0)),
                     ('Available', '', lambda o: st(o).get('availableReplicas', 0))]
        elif res.key == ('apps', 'statefulsets'):
            cols += [('Ready', '', lambda o: f"{st(o).get('readyReplicas', 0)}/{sp(o).get('replicas', 1)}")]
        elif res.key == ('apps', 'replicasets'):
            cols += [('Desired', '', lambda o: sp(o).get('replicas', 1)),
                     ('Current', '', lambda o: st(o).get('replicas', 0)),
                     ('Ready', '', lambda o: st(o).get('readyReplicas', 0))]
        elif res.key == ('', 'pods'):
            cols += [('Ready', '', lambda o: '{}/{}'.format(
                        sum(1 for c in st(o).get('containerStatuses') or [] if c.get('ready')),
                        len(sp(o).get('containers') or []))),
                     ('Status', '', _pod_status_text),
                     ('Restarts', '', lambda o: sum(c.get('restartCount', 0)
                                                    for c in st(o).get('containerStatuses') or []))]
        elif res.key == ('', 'services'):
            cols += [('Type', '', lambda o: sp(o).get('type', 'ClusterIP')),
                     ('Cluster-IP', '', lambda o: sp(o).get('clusterIP', '<none>')),
                     ('Ports', '', lambda o: ','.join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                                                      for p in sp(o).get('ports') or []) or '<none>')]
        elif res.key == ('', 'namespaces'):
            cols += [('Status', '', lambda o: st(o).get('phase', 'Active'))]
        elif res.key == ('', 'secrets'):
            cols += [('Type', '', lambda o: o.get('type', 'Opaque')),
                     ('Data', '', lambda o: len(o.get('data') or {}))]
        elif res.key == ('', 'events'):
            cols = [('Last Seen', '', lambda o: human_age(o.get('lastTimestamp') or o['metadata'].get(
                        'creationTimestamp'))),
                    ('Type', '', lambda o: o.get('type', '')),
                    ('Reason', '', lambda o: o.get('reason', '')),
                    ('Object', '', lambda o: '{}/{}'.format((o.get('involvedObject') or {}).get('kind', '').lower(),
                                                            (o.get('involvedObject') or {}).get('name', ''))),
                    ('Message', '', lambda o: o.get('message', ''))]
        if res.key != ('', 'events'):
            cols.append(('Age', '', lambda o: human_age(o['metadata'].get('creationTimestamp'))))
        rows = []
        for o in items:
            row: dict[str, Any] = {'cells': [fn(o) for _, _, fn in cols]}
            if include != 'None':
                row['object'] = self._present(res, o) if include == 'Object' else self._pom(o)
            rows.append(row)
        return {'kind': 'Table', 'apiVersion': 'meta.k8s.io/v1',
                'metadata': {'resourceVersion': str(self._rv)},
                'columnDefinitions': [{'name': n, 'type': 'string', 'format': f, 'description': '',
                                       'priority': 0} for n, f, _ in cols],
                'rows': rows}

    # ---------------------------------------------------------------- watch

    async def _watch(self, request: kmock.Request, res: Res, ns: str | None,
                     name: str | None) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        q = raw.query
        lsel = parse_label_selector(q.get('labelSelector'))
        fsel = parse_field_selector(q.get('fieldSelector'))
        if name is not None:
            fsel.append(('metadata.name', '=', name))
        table = self._accept(request) == 'Table'
        include = q.get('includeObject')

        def matches(o: dict | None) -> bool:
            if o is None:
                return False
            m = o.get('metadata') or {}
            if ns is not None and m.get('namespace') != ns:
                return False
            return labels_match(lsel, m.get('labels')) and fields_match(fsel, o)

        def render(etype: str, obj: dict) -> dict:
            if table:
                return {'type': etype, 'object': self._table(res, [obj], include)}
            return {'type': etype, 'object': self._present(res, obj)}

        def matcher(event: tuple) -> dict | None:
            rv, key, etype, obj, old = event
            if key != res.key:
                return None
            now_in, was_in = matches(obj), matches(old)
            if etype == 'DELETED':
                return render('DELETED', obj) if was_in or now_in else None
            if etype == 'MODIFIED':
                if now_in:
                    return render('MODIFIED' if was_in else 'ADDED', obj)
                if was_in:
                    return render('DELETED', obj)
                return None
            return render(etype, obj) if now_in else None

        queue: asyncio.Queue = asyncio.Queue()
        sub = (queue, matcher)
        initial: list[dict] = []
        rv_param = q.get('resourceVersion')
        send_initial = q.get('sendInitialEvents') == 'true'
        # Everything up to subscribing happens without an `await`: no event can slip in between.
        if send_initial or not rv_param or rv_param == '0':
            for o in self._list(res, ns, q):
                if matches(o):
                    initial.append(render('ADDED', o))
            if send_initial:
                initial.append({'type': 'BOOKMARK', 'object': {
                    'kind': res.kind, 'apiVersion': res.api_version,
                    'metadata': {'resourceVersion': str(self._rv),
                                 'annotations': {'k8s.io/initial-events-end': 'true'}}}})
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise bad_request(f'invalid resourceVersion {rv_param!r}')
            oldest = self._log[0][0] if self._log else self._rv + 1
            if self._log and since < oldest - 1 and len(self._log) >= self.max_events_kept:
                initial.append({'type': 'ERROR', 'object': {
                    'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                    'message': f'too old resource version: {since} ({oldest})', 'reason': 'Expired',
                    'code': 410}})
                sub = None
            else:
                for event in self._log:
                    if event[0] > since:
                        out = matcher(event)
                        if out is not None:
                            initial.append(out)
        if sub is not None:
            self._subs.add(sub)
        try:
            response = aiohttp.web.StreamResponse(status=200)
            response.content_type = JSON_CT
            response.enable_chunked_encoding()
            await response.prepare(raw)
            for event in initial:
                await response.write(json.dumps(event, separators=(',', ':')).encode() + b'\n')
            if sub is None:
                await response.write_eof()
                return response
            timeout = float(q.get('timeoutSeconds') or 1800)
            deadline = time.monotonic() + timeout
            bookmarks = q.get('allowWatchBookmarks') == 'true'
            while not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(remaining, 5.0))
                except asyncio.TimeoutError:
                    if raw.transport is None or raw.transport.is_closing():
                        break
                    if bookmarks:
                        event = {'type': 'BOOKMARK', 'object': {
                            'kind': res.kind, 'apiVersion': res.api_version,
                            'metadata': {'resourceVersion': str(self._rv)}}}
                    else:
                        continue
                if event is None:
                    break
                await response.write(json.dumps(event, separators=(',', ':')).encode() + b'\n')
            await response.write_eof()
            return response
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            return response
        finally:
            if sub is not None:
                self._subs.discard(sub)

    # ---------------------------------------------------------------- controller

    def is_broken(self, template_or_pod_spec: dict) -> bool:
        spec = template_or_pod_spec or {}
        containers = list(spec.get('containers') or []) + list(spec.get('initContainers') or [])
        for c in containers:
            image = str((c or {}).get('image') or '')
            if any(p.search(image) for p in self._compiled_broken):
                return True
        return False

    async def _controller_loop(self) -> None:
        # A pass runs every `controller_interval` seconds, and also right after any write (so that a
        # rollout is not slowed down by the interval); passes that change nothing write nothing.
        while not self._stopping:
            self._wake.clear()
            try:
                self.reconcile()
            except Exception:
                traceback.print_exc(file=sys.stderr)
            await asyncio.sleep(0.01)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.controller_interval)
            except asyncio.TimeoutError:
                pass

    def reconcile(self) -> None:
        """One pass of the emulated controllers (synchronous: it never interleaves with requests)."""
        for dep in list(self._iter(self._preferred['apps', 'deployments'])):
            self._reconcile_deployment(dep)
        for rs in list(self._iter(self._preferred['apps', 'replicasets'])):
            self._reconcile_replicaset(rs)
        for sts in list(self._iter(self._preferred['apps', 'statefulsets'])):
            self._reconcile_statefulset(sts)
        for ds in list(self._iter(self._preferred['apps', 'daemonsets'])):
            self._reconcile_daemonset(ds)
        for job in list(self._iter(self._preferred['batch', 'jobs'])):
            self._reconcile_job(job)
        for pod in list(self._iter(self._preferred['', 'pods'])):
            self._reconcile_pod(pod)
        for pvc in list(self._iter(self._preferred['', 'persistentvolumeclaims'])):
            self._reconcile_pvc(pvc)
        for svc in list(self._iter(self._preferred['', 'services'])):
            self._reconcile_service(svc)

    def _set_status(self, res: Res, obj: dict, status: dict) -> None:
        if obj.get('status') == status:
            return
        old = self._peek(res, meta(obj).get('namespace'), meta(obj)['name'])
        if old is None:
            return
        new = copy.deepcopy(old)
        new['status'] = status
        self._store(res, new, old)

    def _set_meta(self, res: Res, obj: dict, annotations: dict) -> dict:
        old = self._peek(res, meta(obj).get('namespace'), meta(obj)['name'])
        if old is None:
            return obj
        anns = (old.get('metadata') or {}).get('annotations') or {}
        if all(anns.get(k) == v for k, v in annotations.items()):
            return old
        new = copy.deepcopy(old)
        meta(new).setdefault('annotations', {}).update(annotations)
        return self._store(res, new, old)

    @staticmethod
    def _condition(ctype: str, status: str, reason: str, message: str, prev: list[dict] | None,
                   with_update_time: bool = True) -> dict:
        for c in prev or []:
            if c.get('type') == ctype and c.get('status') == status and c.get('reason') == reason:
                return c
        ts = now_iso()
        out = {'type': ctype, 'status': status, 'reason': reason, 'message': message,
               'lastTransitionTime': ts}
        if with_update_time:
            out['lastUpdateTime'] = ts
        return out

    def _broken_for(self, obj: dict, broken: bool) -> float | None:
        key = meta(obj).get('uid'), meta(obj).get('generation')
        if not broken:
            self._broken_since.pop(key, None)
            return None
        return self._broken_since.setdefault(key, time.monotonic())

    def _emit_event(self, obj: dict, etype: str, reason: str, message: str) -> None:
        m = meta(obj)
        res = self._preferred['', 'events']
        ns = m.get('namespace') or 'default'
        name = f"{m['name']}.{uuid.uuid4().hex[:16]}"
        ts = now_iso()
        try:
            self._create_internal(res, ns, {
                'apiVersion': 'v1', 'kind': 'Event', 'metadata': {'name': name},
                'involvedObject': {'kind': obj.get('kind'), 'apiVersion': obj.get('apiVersion'),
                                   'name': m['name'], 'namespace': m.get('namespace'), 'uid': m.get('uid')},
                'reason': reason, 'message': message, 'type': etype, 'count': 1,
                'firstTimestamp': ts, 'lastTimestamp': ts, 'source': {'component': 'kube-emulator'},
                'reportingComponent': 'kube-emulator'})
        except ApiError:
            pass

    def _reconcile_deployment(self, dep: dict) -> None:
        res = self._preferred['apps', 'deployments']
        m, spec = meta(dep), dep.get('spec') or {}
        if m.get('deletionTimestamp'):
            return
        replicas = int(spec.get('replicas', 1) if spec.get('replicas') is not None else 1)
        template = spec.get('template') or {}
        broken = self.is_broken(template.get('spec') or {})
        since = self._broken_for(dep, broken)
        gen = m.get('generation', 1)

        # The ReplicaSet of the current template (kubectl rollout undo/history need them).
        rs_res = self._preferred['apps', 'replicasets']
        tmpl_hash = short_hash(_strip_hash_label(template))
        owned = [rs for rs in self._iter(rs_res, m.get('namespace'))
                 if any(r.get('uid') == m.get('uid') and r.get('controller')
                        for r in meta(rs).get('ownerReferences') or [])]
        revisions = [int((meta(rs).get('annotations') or {}).get('deployment.kubernetes.io/revision', 0))
                     for rs in owned]
        current = next((rs for rs in owned
                        if _strip_hash_label((rs.get('spec') or {}).get('template') or {}) ==
                        _strip_hash_label(template)), None)
        max_rev = max(revisions, default=0)
        if current is None:
            rev = max_rev + 1
            labels = dict((template.get('metadata') or {}).get('labels') or {})
            labels['pod-template-hash'] = tmpl_hash
            rs_template = copy.deepcopy(template)
            rs_template.setdefault('metadata', {})['labels'] = labels
            selector = copy.deepcopy(spec.get('selector') or {})
            selector.setdefault('matchLabels', {})['pod-template-hash'] = tmpl_hash
            rs_name = f"{m['name']}-{tmpl_hash}"
            if self._peek(rs_res, m.get('namespace'), rs_name) is None:
                current = self._create_internal(rs_res, m.get('namespace'), {
                    'apiVersion': 'apps/v1', 'kind': 'ReplicaSet',
                    'metadata': {'name': rs_name, 'labels': labels,
                                 'annotations': {'deployment.kubernetes.io/revision': str(rev),
                                                 'deployment.kubernetes.io/desired-replicas': str(replicas)},
                                 'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'Deployment',
                                                      'name': m['name'], 'uid': m.get('uid'),
                                                      'controller': True, 'blockOwnerDeletion': True}]},
                    'spec': {'replicas': 0, 'selector': selector, 'template': rs_template}})
                self._emit_event(dep, 'Normal', 'ScalingReplicaSet',
                                 f'Scaled up replica set {rs_name} from 0 to {replicas}')
                owned.append(current)
        else:
            rev_now = int((meta(current).get('annotations') or {}).get('deployment.kubernetes.io/revision', 0))
            if rev_now < max_rev:        # a rollback to an older template: it becomes the newest revision
                current = self._set_meta(rs_res, current, {'deployment.kubernetes.io/revision': str(max_rev + 1)})
        cur_rev = (meta(current).get('annotations') or {}).get('deployment.kubernetes.io/revision', '1')
        dep = self._set_meta(res, dep, {'deployment.kubernetes.io/revision': cur_rev})

        # Scale: the current ReplicaSet gets all replicas; the old ones are scaled to 0 once it is
        # ready (a broken rollout keeps the old ones, as a rolling update would).
        for rs in owned:
            is_current = meta(rs)['name'] == meta(current)['name']
            want = replicas if is_current else (0 if not broken else (rs.get('spec') or {}).get('replicas', 0))
            if (rs.get('spec') or {}).get('replicas') != want:
                old = self._peek(rs_res, meta(rs).get('namespace'), meta(rs)['name'])
                if old is not None:
                    new = copy.deepcopy(old)
                    new.setdefault('spec', {})['replicas'] = want
                    self._store(rs_res, new, old)
        limit = spec.get('revisionHistoryLimit', 10)
        old_rs = sorted((rs for rs in owned if meta(rs)['name'] != meta(current)['name']
                         and (rs.get('spec') or {}).get('replicas', 0) == 0),
                        key=lambda rs: int((meta(rs).get('annotations') or {}).get(
                            'deployment.kubernetes.io/revision', 0)))
        for rs in old_rs[:max(0, len(old_rs) - int(limit))]:
            self._remove(rs_res, meta(rs).get('namespace'), meta(rs)['name'])

        prev = (dep.get('status') or {}).get('conditions') or []
        old_available = sum(((rs.get('status') or {}).get('availableReplicas', 0) for rs in owned
                             if meta(rs)['name'] != meta(current)['name']))
        if not broken:
            status = {'observedGeneration': gen, 'replicas': replicas, 'updatedReplicas': replicas,
                      'readyReplicas': replicas, 'availableReplicas': replicas,
                      'conditions': [
                          self._condition('Available', 'True', 'MinimumReplicasAvailable',
                                          'Deployment has minimum availability.', prev),
                          self._condition('Progressing', 'True', 'NewReplicaSetAvailable',
                                          f'ReplicaSet "{meta(current)["name"]}" has successfully progressed.',
                                          prev)]}
            if replicas == 0:
                status = {k: v for k, v in status.items()
                          if k not in ('replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas')}
        else:
            deadline = min(float(spec.get('progressDeadlineSeconds', 600)), self.progress_deadline)
            exceeded = since is not None and time.monotonic() - since >= deadline
            progressing = (self._condition('Progressing', 'False', 'ProgressDeadlineExceeded',
                                           f'ReplicaSet "{meta(current)["name"]}" has timed out progressing.',
                                           prev)
                           if exceeded else
                           self._condition('Progressing', 'True', 'ReplicaSetUpdated',
                                           f'ReplicaSet "{meta(current)["name"]}" is progressing.', prev))
            available = old_available >= replicas and replicas > 0
            status = {'observedGeneration': gen, 'replicas': replicas + old_available,
                      'updatedReplicas': replicas, 'readyReplicas': old_available,
                      'availableReplicas': old_available,
                      'unavailableReplicas': replicas,
                      'conditions': [
                          self._condition('Available', 'True' if available else 'False',
                                          'MinimumReplicasAvailable' if available else 'MinimumReplicasUnavailable',
                                          'Deployment has minimum availability.' if available else
                                          'Deployment does not have minimum availability.', prev),
                          progressing]}
            status = {k: v for k, v in status.items() if v != 0 or k == 'observedGeneration'}
        self._set_status(res, dep, status)

    def _reconcile_replicaset(self, rs: dict) -> None:
        res = self._preferred['apps', 'replicasets']
        spec = rs.get('spec') or {}
        replicas = int(spec.get('replicas', 1) if spec.get('replicas') is not None else 1)
        broken = self.is_broken(((spec.get('template') or {}).get('spec')) or {})
        self._ensure_pods(rs, 'ReplicaSet', replicas, spec.get('template') or {},
                          lambda i: f"{meta(rs)['name']}-{rand_suffix()}")
        ready = 0 if broken else replicas
        status = {'observedGeneration': meta(rs).get('generation', 1), 'replicas': replicas,
                  'fullyLabeledReplicas': replicas, 'readyReplicas': ready, 'availableReplicas': ready}
        self._set_status(res, rs, {k: v for k, v in status.items() if v != 0 or k == 'observedGeneration'})

    def _reconcile_statefulset(self, sts: dict) -> None:
        res = self._preferred['apps', 'statefulsets']
        m, spec = meta(sts), sts.get('spec') or {}
        replicas = int(spec.get('replicas', 1) if spec.get('replicas') is not None else 1)
        template = spec.get('template') or {}
        broken = self.is_broken(template.get('spec') or {})
        revision = f"{m['name']}-{short_hash(_strip_hash_label(template))}"
        cr_res = self._preferred['apps', 'controllerrevisions']
        owned = [cr for cr in self._iter(cr_res, m.get('namespace'))
                 if any(r.get('uid') == m.get('uid') for r in meta(cr).get('ownerReferences') or [])]
        existing = self._peek(cr_res, m.get('namespace'), revision)
        top = max((cr.get('revision', 0) for cr in owned), default=0)
        if existing is not None and existing.get('revision', 0) < top:
            # A rollback to an older template: that revision becomes the newest, as on a real cluster.
            new_cr = copy.deepcopy(existing)
            new_cr['revision'] = top + 1
            self._store(cr_res, new_cr, existing)
        if existing is None:
            tmpl = copy.deepcopy(template)
            tmpl['$patch'] = 'replace'
            self._create_internal(cr_res, m.get('namespace'), {
                'apiVersion': 'apps/v1', 'kind': 'ControllerRevision',
                'metadata': {'name': revision,
                             'labels': dict(((spec.get('selector') or {}).get('matchLabels')) or {},
                                            **{'controller-revision-hash': revision}),
                             'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'StatefulSet',
                                                  'name': m['name'], 'uid': m.get('uid'),
                                                  'controller': True, 'blockOwnerDeletion': True}]},
                'data': {'spec': {'template': tmpl}},
                'revision': max((cr.get('revision', 0) for cr in owned), default=0) + 1})
        pod_template = copy.deepcopy(template)
        pod_template.setdefault('metadata', {}).setdefault('labels', {})['controller-revision-hash'] = revision
        self._ensure_pods(sts, 'StatefulSet', replicas, pod_template, lambda i: f"{m['name']}-{i}",
                          replace_outdated=True)
        prev = (sts.get('status') or {})
        if not broken:
            status = {'observedGeneration': m.get('generation', 1), 'replicas': replicas,
                      'readyReplicas': replicas, 'currentReplicas': replicas, 'updatedReplicas': replicas,
                      'availableReplicas': replicas, 'currentRevision': revision, 'updateRevision': revision,
                      'collisionCount': 0}
        else:
            status = {'observedGeneration': m.get('generation', 1), 'replicas': replicas,
                      'readyReplicas': 0, 'currentReplicas': 0, 'updatedReplicas': replicas,
                      'availableReplicas': 0, 'currentRevision': prev.get('currentRevision') or revision,
                      'updateRevision': revision, 'collisionCount': 0}
        self._set_status(res, sts, status)

    def _reconcile_daemonset(self, ds: dict) -> None:
        res = self._preferred['apps', 'daemonsets']
        broken = self.is_broken(((ds.get('spec') or {}).get('template') or {}).get('spec') or {})
        n = 0 if broken else 1
        self._set_status(res, ds, {'observedGeneration': meta(ds).get('generation', 1),
                                   'desiredNumberScheduled': 1, 'currentNumberScheduled': 1,
                                   'updatedNumberScheduled': 1, 'numberReady': n, 'numberAvailable': n,
                                   'numberMisscheduled': 0,
                                   **({'numberUnavailable': 1} if broken else {})})

    def _reconcile_job(self, job: dict) -> None:
        res = self._preferred['batch', 'jobs']
        spec = job.get('spec') or {}
        if (job.get('status') or {}).get('conditions') or spec.get('suspend'):
            return
        broken = self.is_broken(((spec.get('template') or {}).get('spec')) or {})
        ts = now_iso()
        if broken:
            status = {'startTime': ts, 'failed': int(spec.get('backoffLimit', 6)) + 1, 'conditions': [
                {'type': 'FailureTarget', 'status': 'True', 'reason': 'BackoffLimitExceeded',
                 'message': 'Job has reached the specified backoff limit', 'lastProbeTime': ts,
                 'lastTransitionTime': ts},
                {'type': 'Failed', 'status': 'True', 'reason': 'BackoffLimitExceeded',
                 'message': 'Job has reached the specified backoff limit', 'lastProbeTime': ts,
                 'lastTransitionTime': ts}]}
        else:
            status = {'startTime': ts, 'completionTime': ts, 'succeeded': int(spec.get('completions', 1) or 1),
                      'ready': 0, 'conditions': [
                          {'type': 'SuccessCriteriaMet', 'status': 'True', 'reason': 'CompletionsReached',
                           'message': 'Reached expected number of succeeded pods', 'lastProbeTime': ts,
                           'lastTransitionTime': ts},
                          {'type': 'Complete', 'status': 'True', 'reason': 'CompletionsReached',
                           'message': 'Reached expected number of succeeded pods', 'lastProbeTime': ts,
                           'lastTransitionTime': ts}]}
        self._set_status(res, job, status)

    def _ensure_pods(self, owner: dict, kind: str, replicas: int, template: dict,
                     namer: Callable[[int], str], replace_outdated: bool = False) -> None:
        if not self.simulate_pods:
            return
        pod_res = self._preferred['', 'pods']
        om = meta(owner)
        pods = [p for p in self._iter(pod_res, om.get('namespace'))
                if any(r.get('uid') == om.get('uid') for r in meta(p).get('ownerReferences') or [])]
        tmpl_spec = template.get('spec') or {}
        if replace_outdated:
            for p in list(pods):
                if (meta(p).get('labels') or {}) != ((template.get('metadata') or {}).get('labels') or {}) \
                        or p.get('spec', {}).get('containers') != tmpl_spec.get('containers'):
                    self._remove(pod_res, om.get('namespace'), meta(p)['name'])
                    pods.remove(p)
        pods.sort(key=lambda p: meta(p)['name'])
        for p in pods[replicas:]:
            self._remove(pod_res, om.get('namespace'), meta(p)['name'])
        existing = {meta(p)['name'] for p in pods}
        i = 0
        while len(existing) < replicas and i < replicas + 1000:
            name = namer(i)
            i += 1
            if name in existing or self._peek(pod_res, om.get('namespace'), name) is not None:
                continue
            existing.add(name)
            self._create_internal(pod_res, om.get('namespace'), {
                'apiVersion': 'v1', 'kind': 'Pod',
                'metadata': {'name': name, 'labels': dict((template.get('metadata') or {}).get('labels') or {}),
                             'annotations': dict((template.get('metadata') or {}).get('annotations') or {}),
                             'ownerReferences': [{'apiVersion': owner.get('apiVersion'), 'kind': kind,
                                                  'name': om['name'], 'uid': om.get('uid'),
                                                  'controller': True, 'blockOwnerDeletion': True}]},
                'spec': dict(copy.deepcopy(tmpl_spec), nodeName='kube-emulator-node')})

    def _reconcile_pod(self, pod: dict) -> None:
        res = self._preferred['', 'pods']
        spec = pod.get('spec') or {}
        if (pod.get('status') or {}).get('phase') in ('Succeeded', 'Failed'):
            return
        broken = self.is_broken(spec)
        owned = bool(meta(pod).get('ownerReferences'))
        run_to_completion = not owned and spec.get('restartPolicy') in ('Never', 'OnFailure')
        prev = (pod.get('status') or {}).get('conditions') or []
        ts = (pod.get('status') or {}).get('startTime') or now_iso()
        statuses = []
        for c in spec.get('containers') or []:
            st: dict[str, Any] = {'name': c.get('name'), 'image': c.get('image'),
                                  'imageID': f"emulated://{c.get('image')}", 'restartCount': 0,
                                  'started': not broken, 'ready': not broken and not run_to_completion}
            if broken:
                st['state'] = {'waiting': {'reason': 'CrashLoopBackOff',
                                           'message': 'kube-emulator: the image matches a broken rule'}}
                st['restartCount'] = 3
            elif run_to_completion:
                st['state'] = {'terminated': {'exitCode': 0, 'reason': 'Completed', 'startedAt': ts,
                                              'finishedAt': ts}}
            else:
                st['state'] = {'running': {'startedAt': ts}}
            statuses.append(st)
        if run_to_completion:
            phase = 'Failed' if broken else 'Succeeded'
        else:
            phase = 'Running'
        ready = 'False' if broken or run_to_completion else 'True'
        status = {'phase': phase, 'hostIP': '127.0.0.1', 'podIP': '127.0.0.1', 'podIPs': [{'ip': '127.0.0.1'}],
                  'startTime': ts, 'qosClass': 'BestEffort', 'containerStatuses': statuses,
                  'conditions': [self._condition('PodScheduled', 'True', '', '', prev, False),
                                 self._condition('Initialized', 'True', '', '', prev, False),
                                 self._condition('ContainersReady', ready, '', '', prev, False),
                                 self._condition('Ready', ready, '', '', prev, False)]}
        if broken and (pod.get('status') or {}).get('phase') is None:
            self._emit_event(pod, 'Warning', 'BackOff',
                             'Back-off restarting failed container (kube-emulator: broken image rule)')
        self._set_status(res, pod, status)

    def _reconcile_pvc(self, pvc: dict) -> None:
        res = self._preferred['', 'persistentvolumeclaims']
        if (pvc.get('status') or {}).get('phase') == 'Bound':
            return
        spec = pvc.get('spec') or {}
        self._set_status(res, pvc, {'phase': 'Bound', 'accessModes': spec.get('accessModes') or ['ReadWriteOnce'],
                                    'capacity': ((spec.get('resources') or {}).get('requests')) or {}})

    def _reconcile_service(self, svc: dict) -> None:
        if (svc.get('spec') or {}).get('type') != 'LoadBalancer':
            return
        if ((svc.get('status') or {}).get('loadBalancer') or {}).get('ingress'):
            return
        self._set_status(self._preferred['', 'services'], svc,
                         {'loadBalancer': {'ingress': [{'ip': '127.0.0.1', 'ipMode': 'VIP'}]}})


def _workload_defaults(res: Res, obj: dict) -> None:
    """kube-apiserver's defaults for the workload fields that kubectl and kstatus read."""
    spec = obj.get('spec')
    if not isinstance(spec, dict):
        return
    if res.key == ('apps', 'deployments'):
        spec.setdefault('replicas', 1)
        spec.setdefault('strategy', {'type': 'RollingUpdate',
                                     'rollingUpdate': {'maxUnavailable': '25%', 'maxSurge': '25%'}})
        spec.setdefault('revisionHistoryLimit', 10)
        spec.setdefault('progressDeadlineSeconds', 600)
    elif res.key == ('apps', 'statefulsets'):
        spec.setdefault('replicas', 1)
        spec.setdefault('updateStrategy', {'type': 'RollingUpdate', 'rollingUpdate': {'partition': 0}})
        spec.setdefault('podManagementPolicy', 'OrderedReady')
        spec.setdefault('revisionHistoryLimit', 10)
    elif res.key == ('apps', 'daemonsets'):
        spec.setdefault('updateStrategy', {'type': 'RollingUpdate',
                                           'rollingUpdate': {'maxUnavailable': 1, 'maxSurge': 0}})
        spec.setdefault('revisionHistoryLimit', 10)


def _pod_status_text(o: dict) -> str:
    st = o.get('status') or {}
    for c in st.get('containerStatuses') or []:
        w = (c.get('state') or {}).get('waiting')
        if w:
            return w.get('reason', 'Waiting')
    if st.get('phase') == 'Succeeded':
        return 'Completed'
    return st.get('phase', 'Pending')


def _prune_empty(value: Any) -> Any:
    """Drop nulls, empty maps and empty lists: typed clients send `resources: {}` or
    `creationTimestamp: null` where others send nothing, and the real API server compares typed
    (defaulted) objects, where both are the same."""
    if isinstance(value, dict):
        out = {k: _prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def _strip_hash_label(template: dict) -> dict:
    t = copy.deepcopy(template or {})
    labels = (t.get('metadata') or {}).get('labels')
    if isinstance(labels, dict):
        labels.pop('pod-template-hash', None)
        labels.pop('controller-revision-hash', None)
    return _prune_empty(t)


def _version_rank(v: str) -> tuple:
    m = re.match(r'^v(\d+)(?:(alpha|beta)(\d+))?$', v or '')
    if not m:
        return (0, 0, 0, v)
    stage = {'alpha': 1, 'beta': 2, None: 3}[m.group(2)]
    return (stage, int(m.group(1)), int(m.group(3) or 0), v)


def _parse_api_path(path: str) -> tuple | None:
    """(group, version, namespace, plural, name, subresource) of an API path, or None."""
    parts = [p for p in path.split('/') if p]
    if not parts:
        return None
    if parts[0] == 'api':
        if len(parts) < 2:
            return None
        group, version, rest = '', parts[1], parts[2:]
    elif parts[0] == 'apis':
        if len(parts) < 2:
            return None
        group = parts[1]
        version = parts[2] if len(parts) > 2 else None
        rest = parts[3:]
    else:
        return None
    if version is None:
        return group, None, None, None, None, None
    ns = None
    if len(rest) >= 3 and rest[0] == 'namespaces' and not (len(rest) == 3 and rest[2] in ('status', 'finalize')):
        ns, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    sub = '/'.join(rest[2:]) or None
    return group, version, ns, plural, name, sub


def _guess_action(method: str, name: str | None, query: Any) -> kmock.action | None:
    method = method.upper()
    if method == 'GET' and query.get('watch') in ('1', 'true'):
        return kmock.action.WATCH
    if name is None:
        return {'GET': kmock.action.LIST, 'POST': kmock.action.CREATE}.get(method)
    return {'GET': kmock.action.FETCH, 'PATCH': kmock.action.UPDATE, 'PUT': kmock.action.UPDATE,
            'DELETE': kmock.action.DELETE}.get(method)


# --------------------------------------------------------------------------------------------
# kubeconfig.
# --------------------------------------------------------------------------------------------

def merge_kubeconfig(path: str, context: str, server: str, set_current: bool | None = None) -> None:
    """Add (or replace) one cluster/user/context named `context` in the kubeconfig at `path`.

    Safe for several emulators writing the same file at once (an flock on PATH.lock).
    The current-context is set when the file has none yet, or when `set_current` is True.
    """
    lock_path = path + '.lock'
    with open(lock_path, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config: dict[str, Any] = {}
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, encoding='utf-8') as f:
                text = f.read()
            try:
                config = json.loads(text)
            except ValueError:
                if yaml is None:
                    raise RuntimeError(f'{path} is not JSON and PyYAML is not installed to read it')
                config = yaml.safe_load(text) or {}
        config.setdefault('apiVersion', 'v1')
        config.setdefault('kind', 'Config')
        config.setdefault('preferences', {})
        for section, entry in (
                ('clusters', {'name': context, 'cluster': {'server': server}}),
                ('users', {'name': context, 'user': {'token': 'kube-emulator'}}),
                ('contexts', {'name': context, 'context': {'cluster': context, 'user': context,
                                                           'namespace': 'default'}})):
            items = [i for i in (config.get(section) or []) if i.get('name') != context]
            items.append(entry)
            config[section] = items
        if set_current or (set_current is None and not config.get('current-context')):
            config['current-context'] = context
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(config, f, indent=2)
            f.write('\n')
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


def write_atomically(path: str, text: str) -> None:
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# CLI.
# --------------------------------------------------------------------------------------------

async def serve(args: argparse.Namespace) -> None:
    if args.host not in ('127.0.0.1', '::1', 'localhost'):
        raise SystemExit('kube-emulator: refusing to listen anywhere but on loopback')
    emu = KubeEmulator(controller=not args.no_controller, broken_patterns=args.broken_pattern or
                       [DEFAULT_BROKEN_PATTERN], progress_deadline=args.progress_deadline,
                       simulate_pods=not args.no_pods, log_requests=args.log_requests,
                       controller_interval=args.controller_interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with emu:
        server = kmock.Server(emu, host=args.host, port=args.port, user_agent='')
        async with server:
            host = server.host if ':' not in server.host else f'[{server.host}]'
            url = f'http://{host}:{server.port}'
            if args.kubeconfig_out:
                merge_kubeconfig(args.kubeconfig_out, args.context, url,
                                 set_current=True if args.set_current else None)
            if args.port_file:
                write_atomically(args.port_file, f'{server.port}\n')
            print(f'kube-emulator: listening on {url} (pid {os.getpid()}, controller '
                  f'{"on" if emu.controller else "off"})', file=sys.stderr, flush=True)
            await stop.wait()
            print('kube-emulator: stopping', file=sys.stderr, flush=True)
            await emu.shutdown()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description='A Kubernetes API emulator for tests (kmock-based).')
    p.add_argument('--host', default='127.0.0.1', help='loopback address to bind (default 127.0.0.1)')
    p.add_argument('--port', type=int, default=0, help='port (0 = a free one; see --port-file)')
    p.add_argument('--port-file', help='write the port here once listening')
    p.add_argument('--no-controller', action='store_true',
                   help='do not run the emulated controllers (nothing ever becomes ready)')
    p.add_argument('--broken-pattern', action='append', metavar='REGEX',
                   help='images matching this regex (re.search on the whole image reference) never '
                        f'become ready; repeatable (default: {DEFAULT_BROKEN_PATTERN!r}, the tag contains '
                        '"broken")')
    p.add_argument('--progress-deadline', type=float, default=5.0,
                   help='seconds before a broken Deployment reports ProgressDeadlineExceeded '
                        '(or its spec.progressDeadlineSeconds if smaller; default 5)')
    p.add_argument('--controller-interval', type=float, default=0.2, help='seconds between controller passes')
    p.add_argument('--no-pods', action='store_true', help='do not create emulated Pods for workloads')
    p.add_argument('--kubeconfig-out', help='write/merge a kubeconfig with a context for this emulator')
    p.add_argument('--context', default='kube-emulator', help='context/cluster/user name in the kubeconfig')
    p.add_argument('--set-current', action='store_true',
                   help='make this context the current one (default: only if the file has none)')
    p.add_argument('--log-requests', action='store_true', help='log every request to stderr')
    args = p.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
