// embedding lookup and its scatter-add backward (placeholder: being written).
