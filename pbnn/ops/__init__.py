"""PyTensor operations pbnn needs that PyTensor does not ship."""
