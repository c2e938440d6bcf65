package history

// pageSlots is the number of slots in one persisted page.
const pageSlots = 16
