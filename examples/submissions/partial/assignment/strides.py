import torch


def contiguous_strides(shape):
    strides = []
    acc = 1
    for size in reversed(list(shape)):
        strides.insert(0, acc)
        acc = acc * max(size, 1)
    return tuple(strides)


def flat_offset(index, strides, storage_offset=0):
    if len(index) != len(strides):
        raise ValueError("index and strides must have the same length")
    offset = storage_offset
    for i in range(len(index)):
        offset += index[i] * strides[i]
    return offset


def is_contiguous(shape, strides):
    if len(shape) != len(strides):
        raise ValueError("shape and strides must have the same length")
    numel = 1
    for s in shape:
        numel *= s
    if numel == 0:
        return True
    # contiguous means the strides are exactly the row-major ones
    return tuple(strides) == contiguous_strides(shape)


def _fix_dim(dim, ndim):
    n = max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError("dimension out of range")
    if dim < 0:
        dim += n
    return dim


def transpose(shape, strides, dim0, dim1):
    shape = list(shape)
    strides = list(strides)
    dim0 = _fix_dim(dim0, len(shape))
    dim1 = _fix_dim(dim1, len(shape))
    if len(shape) > 0:
        shape[dim0], shape[dim1] = shape[dim1], shape[dim0]
        strides[dim0], strides[dim1] = strides[dim1], strides[dim0]
    return tuple(shape), tuple(strides)


def narrow(shape, strides, storage_offset, dim, start, length):
    if len(shape) == 0:
        raise ValueError("can't narrow a 0-dim tensor")
    if length < 0:
        raise ValueError("length must be non-negative")
    dim = _fix_dim(dim, len(shape))
    size = shape[dim]
    if start < -size or start > size:
        raise IndexError("start out of range")
    if start < 0:
        start += size
    if start + length > size:
        raise ValueError("start + length is past the end of the dimension")
    new_shape = list(shape)
    new_shape[dim] = length
    return tuple(new_shape), tuple(strides), storage_offset + start * strides[dim]


def view(shape, strides, new_shape):
    numel = 1
    for s in shape:
        numel *= s
    new_shape = list(new_shape)
    if new_shape.count(-1) > 1:
        raise ValueError("only one -1 allowed")
    if -1 in new_shape:
        rest = 1
        for s in new_shape:
            if s != -1:
                rest *= s
        if rest == 0 or numel % rest != 0:
            raise ValueError("can't infer the -1")
        new_shape[new_shape.index(-1)] = numel // rest
    total = 1
    for s in new_shape:
        if s < 0:
            raise ValueError("bad size")
        total *= s
    if total != numel:
        raise ValueError("number of elements doesn't match")

    if len(shape) == 0:
        return tuple(1 for _ in new_shape)
    if numel == 0:
        if tuple(new_shape) == tuple(shape):
            return tuple(strides)
        return contiguous_strides(new_shape)

    # size 1 dims don't matter, drop them
    old = [(sz, st) for sz, st in zip(shape, strides) if sz != 1]
    # glue old dims into groups that are contiguous with each other
    groups = []  # (numel, stride of last dim in the group)
    for sz, st in reversed(old):
        if groups and groups[-1][1] * groups[-1][0] == st:
            groups[-1] = (groups[-1][0] * sz, groups[-1][1])
        else:
            groups.append((sz, st))
    # walk the new shape from the right and eat the groups
    result = [1] * len(new_shape)  # size-1 dims: stride 1
    g = 0
    inside = 1
    for i in range(len(new_shape) - 1, -1, -1):
        sz = new_shape[i]
        if sz == 1:
            continue
        while groups[g][0] == inside:
            g += 1
            inside = 1
        if groups[g][0] % (inside * sz) != 0:
            return None
        result[i] = groups[g][1] * inside
        inside *= sz
    return tuple(result)


def shares_storage(a, b):
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
