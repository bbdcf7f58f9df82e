"""raise_"""
